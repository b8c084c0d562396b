// The little language the config schema is written in. One description of every key feeds
// the loader (src/config/validate.ts), the JSON Schema (json-schema.ts), the reference page
// (doc.ts) and the YAML writer (render-yaml.ts), so none of them can drift from the others.

export type IntSpec = {
  readonly type: 'int';
  readonly min: number;
  readonly max: number;
  /** Absent only for keys listed in their object's `required`. */
  readonly default?: number;
  readonly doc: string;
};
export type BoolSpec = { readonly type: 'bool'; readonly default?: boolean; readonly doc: string };
export type StringSpec = {
  readonly type: 'string';
  readonly default?: string;
  readonly doc: string;
  readonly oneOf?: readonly string[];
  /** A file path: a relative one is resolved against the config file's directory. */
  readonly path?: boolean;
  readonly minLength?: number;
  /** A regular expression (JSON Schema dialect: no flags) and what it means, for the error. */
  readonly pattern?: { readonly regex: string; readonly means: string };
};

/** A key whose value is one scalar. The name predates the nested keys and is kept for callers. */
export type KeySpec = IntSpec | BoolSpec | StringSpec;

export type Primitive = string | number | boolean;

/**
 * A condition between keys of one object: "when `key` is one of `in`" (or, with `present`,
 * "when `key` is set at all"), `then` applies, otherwise `else` applies. A key that is absent
 * takes its default for the test. Both the loader and the JSON Schema (`if`/`then`/`else`)
 * are generated from these.
 */
export interface Rule {
  readonly key: string;
  readonly in?: readonly Primitive[];
  readonly present?: true;
  readonly then?: RuleAction;
  readonly else?: RuleAction;
  /** Appended to the error message: what to do instead. */
  readonly hint?: string;
}
export interface RuleAction {
  /** These keys must be set (and, for strings, not empty). */
  readonly require?: readonly string[];
  /** These boolean keys must be set to true. */
  readonly requireTrue?: readonly string[];
  /** These keys must not be set. */
  readonly forbid?: readonly string[];
}

export interface ObjectSpec {
  readonly type: 'object';
  readonly doc: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
  readonly required?: readonly string[];
  readonly rules?: readonly Rule[];
}
export interface ListSpec {
  readonly type: 'list';
  readonly doc: string;
  readonly items: ObjectSpec;
  readonly minItems?: number;
}
export type FieldSpec = KeySpec | ObjectSpec | ListSpec;

/** The TypeScript type of a value described by a spec. */
export type SpecValue<S> = S extends { type: 'int' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : S extends { type: 'string'; oneOf: readonly (infer U extends string)[] }
      ? U
      : S extends { type: 'string' }
        ? string
        : S extends { type: 'list'; items: { fields: infer F } }
          ? FieldsValue<F>[]
          : S extends { type: 'object'; fields: infer F }
            ? FieldsValue<F>
            : never;

/** An object with every field of a spec present (defaults filled in). */
export type FieldsValue<F> = { -readonly [K in keyof F]: SpecValue<F[K]> };

export function isScalarSpec(spec: FieldSpec): spec is KeySpec {
  return spec.type === 'int' || spec.type === 'bool' || spec.type === 'string';
}
