/** Path of the compiled stand-in launcher (test/standins/kafka/bin/kafka-standin). */
export declare const BINARY: string;

/**
 * Compiles launcher.c into {@link BINARY} when the binary is missing or older than the source and
 * returns its path. Throws an error naming the missing package (librdkafka-dev, gcc).
 */
export declare function ensureBuilt(): string;
