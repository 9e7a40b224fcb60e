/** JSON Schema pieces several plugins' option schemas share (so "a TLS option" means the same everywhere). */

/** A PEM value (or a list of them, for CA bundles). */
const pem = { type: 'string', minLength: 1 } as const;

/** TLS options of a client plugin; `extra` adds the client's own fields (e.g. `caFingerprint`). */
export function tlsOptionsSchema(description: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    description,
    properties: {
      ca: {
        type: ['string', 'array'],
        items: pem,
        minLength: 1,
        description: 'CA bundle (PEM) that signed the server certificate; the system CAs when absent.',
      },
      cert: { ...pem, description: 'Client certificate (PEM) for mutual TLS.' },
      key: { ...pem, description: 'Client key (PEM) for mutual TLS.' },
      rejectUnauthorized: {
        type: 'boolean',
        description: 'Verify the server certificate (default true; false needs allowInsecure: true).',
      },
      allowInsecure: { type: 'boolean', description: 'Confirms rejectUnauthorized: false.' },
      ...extra,
    },
  } as const;
}
