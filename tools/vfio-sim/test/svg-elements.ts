// Reads an inline SVG back as its elements, for the chart and HTML report tests.

export type El = { tag: string; attrs: Record<string, string>; text: string };
/** The SVG's elements in order: tag, attributes, and the text (or <title>) inside. */
export function elements(svg: string): El[] {
  const out: El[] = [];
  for (const m of svg.matchAll(/<(text|rect|line|polyline|circle)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[2]!.matchAll(/([\w-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    const inner = m[4] ?? '';
    const title = /<title>([\s\S]*)<\/title>/.exec(inner);
    out.push({ tag: m[1]!, attrs, text: title !== null ? title[1]! : inner });
  }
  return out;
}
/** An attribute as a number. */
export const num = (e: El, k: string): number => Number(e.attrs[k]);
