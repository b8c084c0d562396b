// Layer rule from DESIGN.md: arrows point down, nothing imports upward.
// L0 protocol, topic  <  L1 core  <  L2 transports, adapters  <  L3 messaging, notify, http
// < L4 app < cli.  config is read by app and cli only (and may use L0 helpers).
const layer = (name, allowed) => ({
  name: `layer-${name}`,
  comment: `src/${name} may import only from: ${allowed.join(', ') || '(itself)'}`,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: {
    path: '^src/([^/]+)/',
    pathNot: [`^src/${name}/`, ...allowed.map((a) => `^src/${a}/`)],
  },
});

module.exports = {
  forbidden: [
    layer('protocol', []),
    layer('topic', []),
    layer('core', ['protocol', 'topic']),
    layer('transports', ['protocol', 'topic', 'core']),
    layer('adapters', ['protocol', 'topic', 'core']),
    layer('config', ['protocol', 'topic']),
    layer('messaging', ['protocol', 'topic', 'core', 'adapters']),
    layer('notify', ['protocol', 'topic', 'core', 'adapters']),
    layer('http', ['protocol', 'topic', 'core', 'adapters', 'messaging', 'notify']),
    layer('app', ['protocol', 'topic', 'core', 'transports', 'adapters', 'config', 'messaging', 'notify', 'http']),
    {
      name: 'no-src-to-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'runtime import cycles; type-only cycles vanish at compile time and are allowed',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
