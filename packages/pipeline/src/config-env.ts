/** Environment substitution in config values (so secrets stay out of the file). */
import type { ConfigProblem } from './config-problems';

/**
 * `${NAME}` in any string value → the environment variable (so secrets stay out of the file). A value that is
 * exactly `${NAME:number}` becomes a number (a port from the environment, say); the type is never guessed from
 * the text, so a numeric password stays a string.
 */
export function substituteEnv(
  v: unknown,
  env: NodeJS.ProcessEnv,
  path: string,
  problems: ConfigProblem[],
): unknown {
  if (typeof v === 'string') {
    const lookup = (name: string): string | undefined => {
      const val = env[name];
      if (val === undefined) problems.push({ path, message: `environment variable ${name} is not set` });
      return val;
    };
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*):number\}$/.exec(v);
    if (whole) {
      const val = lookup(whole[1]!);
      if (val !== undefined && /^-?\d+(\.\d+)?$/.test(val.trim())) return Number(val);
      if (val !== undefined)
        problems.push({ path, message: `environment variable ${whole[1]} is not a number` });
      return v;
    }
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => lookup(name) ?? '');
  }
  if (Array.isArray(v)) return v.map((x, i) => substituteEnv(x, env, `${path}/${i}`, problems));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = substituteEnv(x, env, `${path}/${k}`, problems);
    return o;
  }
  return v;
}
