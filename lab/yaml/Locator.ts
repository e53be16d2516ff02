/**
 * Where a key path stands in a YAML source: topology and scenario errors name the file,
 * the line and the key, so both loaders share this.
 */
import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node as YamlNode } from 'yaml';

export type PathSeg = string | number;

/** Maps key paths to line numbers in a YAML document (none when the input was not YAML). */
export class Locator {
  constructor(
    private readonly doc?: Document,
    private readonly lc?: LineCounter,
  ) {}

  /** Line of the deepest node found along `path`, and how many segments were found. */
  locate(path: PathSeg[]): { line?: number; depth: number } {
    if (!this.doc || !this.lc) return { depth: 0 };
    let node: unknown = this.doc.contents;
    let offset = (node as YamlNode | null)?.range?.[0];
    let depth = 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        offset = (pair.key as YamlNode).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && node.items[Number(seg)] !== undefined) {
        node = node.items[Number(seg)];
        offset = (node as YamlNode).range?.[0] ?? offset;
      } else break;
      depth++;
    }
    return { line: offset === undefined ? undefined : this.lc.linePos(offset).line, depth };
  }
}

