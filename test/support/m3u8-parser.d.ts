/** The part of m3u8-parser (which ships no types) the HLS suites use. */
declare module 'm3u8-parser' {
  export class Parser {
    push(chunk: string): void;
    end(): void;
    manifest: Record<string, unknown>;
  }
}
