/**
 * The modelled base power of nodes: what the device meters do not see (fans, NICs, disks,
 * switches), in W per node, configured by node-name pattern. Modelled, not measured, and
 * labelled so wherever it appears.
 */

/** One rule: nodes whose name matches `pattern` (a glob with `*` and `?`) draw `powerW`. */
export interface BasePowerRule {
  readonly pattern: string;
  readonly powerW: number;
}

/** Parse `PATTERN=W` or `W` (every node); the error names what was wrong. */
export function parseBasePowerRule(text: string): BasePowerRule {
  const m = /^(?:([^=]+)=)?(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (m === null) throw new Error(`base power "${text}": expected PATTERN=WATTS (e.g. gcn*=600) or WATTS`);
  return { pattern: m[1] ?? '*', powerW: Number(m[2]) };
}

/** Base power of a node by the first matching rule, 0 when none matches. */
export function basePowerOf(rules: readonly BasePowerRule[]): (node: string) => number {
  const compiled = rules.map((r) => ({
    re: new RegExp(`^${r.pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`),
    powerW: r.powerW,
  }));
  return (node) => compiled.find((c) => c.re.test(node))?.powerW ?? 0;
}
