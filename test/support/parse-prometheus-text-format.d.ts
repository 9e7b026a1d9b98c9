// The parser ships no types; this is the part of its output the tests read.
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): { name: string; help: string; type: string; metrics: { value?: string; labels?: Record<string, string> }[] }[];
}
