# The ruletrail image: the `ruletrail` command (explain | run | validate | snapshot | setup) and the demo stack's
# trace replayer. Built by docker-compose.yml; also usable alone:
#
#   docker build -t ruletrail . && docker run --rm ruletrail explain --year 2023 \
#     --rules examples/incident/iptables-save-0101.txt --rules examples/incident/iptables-save-0103.txt \
#     examples/incident/kern.log
#
# The Node version is the one the project is developed and tested on (package.json engines: >= 20.19).
FROM node:20.20.2-bookworm-slim

WORKDIR /app
# Sources first, then one `npm ci`: its prepare script generates the event model and compiles every package
# (tsc -b); dev dependencies (TypeScript) are pruned afterwards.
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY scripts/ scripts/
COPY schemas/ schemas/
COPY packages/ packages/
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# The bundled incident, the demo's pipeline and replayer, and the real-kernel captures the replayer plays.
COPY examples/ examples/
COPY demo/ demo/
COPY test/fixtures/lab/ test/fixtures/lab/

# Volumes mounted here start with this ownership, so the unprivileged user can write traces and state.
RUN mkdir -p /traces /var/lib/ruletrail && chown node:node /traces /var/lib/ruletrail
USER node
ENV NODE_ENV=production
ENTRYPOINT ["node", "/app/packages/cli/bin/ruletrail.js"]
CMD ["--help"]
