// The JSON Schema (draft 2020-12) of the config file, generated from schema.ts and published as
// docs/config.schema.json, for editors (yaml-language-server) and for tools that write configs.
// It says everything the loader checks except what needs several keys at once and the file's
// location: two listeners on one port, auth_failure_delay_max below auth_failure_delay.
import { CONFIG_SPEC } from './schema.js';
import { isScalarSpec, type FieldSpec, type KeySpec, type ObjectSpec, type Rule, type RuleAction } from './spec.js';

type Schema = Record<string, unknown>;

export function renderJsonSchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Culex configuration',
    ...objectSchema(CONFIG_SPEC),
  };
}

/** The text of docs/config.schema.json. */
export function renderJsonSchemaText(): string {
  return `${JSON.stringify(renderJsonSchema(), null, 2)}\n`;
}

function fieldSchema(spec: FieldSpec): Schema {
  if (isScalarSpec(spec)) return scalarSchema(spec);
  if (spec.type === 'list') {
    return {
      type: 'array',
      description: spec.doc,
      ...(spec.minItems !== undefined ? { minItems: spec.minItems } : {}),
      items: objectSchema(spec.items),
    };
  }
  return objectSchema(spec);
}

function scalarSchema(spec: KeySpec): Schema {
  const base: Schema = { description: spec.doc };
  switch (spec.type) {
    case 'int':
      Object.assign(base, { type: 'integer', minimum: spec.min, maximum: spec.max });
      break;
    case 'bool':
      Object.assign(base, { type: 'boolean' });
      break;
    case 'string':
      Object.assign(base, { type: 'string' });
      if (spec.oneOf !== undefined) base.enum = [...spec.oneOf];
      if (spec.minLength !== undefined) base.minLength = spec.minLength;
      if (spec.pattern !== undefined) base.pattern = spec.pattern.regex;
      break;
  }
  if (spec.default !== undefined) base.default = spec.default;
  return base;
}

function objectSchema(spec: ObjectSpec): Schema {
  const properties: Schema = {};
  for (const [key, field] of Object.entries(spec.fields)) properties[key] = fieldSchema(field);
  const out: Schema = { type: 'object', description: spec.doc, properties, additionalProperties: false };
  if (spec.required !== undefined && spec.required.length > 0) out.required = [...spec.required];
  if (spec.rules !== undefined && spec.rules.length > 0) out.allOf = spec.rules.map((rule) => ruleSchema(spec, rule));
  return out;
}

/** `if` the condition holds (an absent key counts as its default) `then`/`else` the actions. */
function ruleSchema(spec: ObjectSpec, rule: Rule): Schema {
  let condition: Schema;
  if (rule.present === true) {
    condition = requiring([rule.key]);
  } else {
    const field = spec.fields[rule.key];
    const dflt = field !== undefined && isScalarSpec(field) ? field.default : undefined;
    const values = [...(rule.in ?? [])];
    const test = { [rule.key]: { enum: values } };
    condition = dflt === undefined || !values.includes(dflt) ? requiring([rule.key], test) : { properties: test };
  }
  const out: Schema = { if: condition };
  if (rule.then !== undefined) out.then = actionSchema(spec, rule.then);
  if (rule.else !== undefined) out.else = actionSchema(spec, rule.else);
  return out;
}

function actionSchema(spec: ObjectSpec, action: RuleAction): Schema {
  const parts: Schema[] = [];
  const require = action.require ?? [];
  if (require.length > 0) {
    const properties: Schema = {};
    for (const key of require) if (spec.fields[key]?.type === 'string') properties[key] = { type: 'string', minLength: 1 };
    parts.push(requiring(require, properties));
  }
  const requireTrue = action.requireTrue ?? [];
  if (requireTrue.length > 0) {
    const properties: Schema = {};
    for (const key of requireTrue) properties[key] = { const: true };
    parts.push(requiring(requireTrue, properties));
  }
  for (const key of action.forbid ?? []) parts.push({ not: requiring([key]) });
  return parts.length === 1 ? parts[0]! : { allOf: parts };
}

/**
 * `required` with each key also under `properties` (`true` = anything), which ajv's strict
 * mode asks for in subschemas; the meaning is the same.
 */
function requiring(keys: readonly string[], properties: Schema = {}): Schema {
  const all: Schema = {};
  for (const key of keys) all[key] = properties[key] ?? true;
  return { properties: { ...all, ...properties }, required: [...keys] };
}
