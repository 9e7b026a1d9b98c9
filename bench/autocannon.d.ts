// The part of autocannon 9's API that bench/peers.ts uses (@types/autocannon describes version 7).
declare module 'autocannon' {
  interface Options {
    url: string; method?: string; body?: string; headers?: Record<string, string>;
    connections?: number; duration?: number; pipelining?: number;
  }
  interface Result { errors: number; non2xx: number; duration: number; requests: { total: number; average: number } }
  interface Instance extends PromiseLike<Result> {
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
  }
  export default function autocannon(options: Options): Instance;
}
