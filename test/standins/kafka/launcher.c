/*
 * kafka-standin: a Kafka-protocol stand-in for tests, built on librdkafka's mock cluster.
 *
 * usage: kafka-standin [--brokers N] [--topic name:partitions]...
 *
 * Starts N mock brokers (ids 1..N) on random loopback ports, creates the given topics, prints the
 * bootstrap list ("host:port,host:port") as the first line of stdout, then answers each command
 * line read from stdin with exactly one line, "ok" or "error <reason>". Commands are listed in
 * usage() below. Exits (code 0) when stdin closes or on SIGTERM/SIGINT, so it dies with the process
 * that spawned it.
 *
 * Exit codes: 0 normal end, 1 runtime failure, 2 bad arguments, 3 unsupported librdkafka layout.
 *
 * Build: gcc -O2 -Wall -o kafka-standin launcher.c -lrdkafka (build.js does this).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define EXIT_LAYOUT 3

#define MAX_BROKERS 64
#define MAX_PARTITIONS 10000
#define MAX_ERROR_COUNT 100000
#define MAX_TOPIC_NAME 249
#define LINE_SIZE 4096

/** Replication factor of created topics: the broker count, at most this. */
#define MAX_REPLICATION 3
/** The broker the stand-in reports as controller. */
#define CONTROLLER_ID 1

static rd_kafka_mock_cluster_t *cluster;
static int broker_count = 1;

/** Self-pipe: the signal handler writes to [1], the command loop polls [0]. */
static int signal_pipe[2] = {-1, -1};

static void usage(FILE *out) {
        fputs("usage: kafka-standin [--brokers N] [--topic name:partitions]...\n"
              "\n"
              "  --brokers N              number of brokers, ids 1..N (default 1, max 64)\n"
              "  --topic name:partitions  create a topic (repeatable)\n"
              "  --help                   print this help\n"
              "\n"
              "Prints the bootstrap list (host:port,...) as the first stdout line, then answers\n"
              "each stdin command with one line, \"ok\" or \"error <reason>\":\n"
              "  down <brokerId>                       disconnect a broker, refuse connections\n"
              "  up <brokerId>                         accept connections again\n"
              "  rtt <brokerId> <ms>                   delay the broker's responses\n"
              "  fail <apiKey> <errorCode> <count>     fail the next <count> requests of an API\n"
              "  clear <apiKey>                        drop pending failures of an API\n"
              "  topic <name> <partitions>             create a topic\n"
              "  leader <topic> <partition> <brokerId> move a partition leader (-1: none)\n"
              "Exits when stdin closes or on SIGTERM/SIGINT.\n",
              out);
}

/** Prints a usage error naming the bad argument and exits with EXIT_USAGE. */
static void usage_error(const char *fmt, ...) {
        va_list ap;
        fputs("kafka-standin: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see --help)\n", stderr);
        exit(EXIT_USAGE);
}

/** Parses a whole decimal integer within [min, max]; returns 0 on success, -1 otherwise. */
static int parse_int(const char *text, long min, long max, long *out) {
        char *end;
        long value;
        if (!text || !*text)
                return -1;
        errno = 0;
        value = strtol(text, &end, 10);
        if (errno || *end || value < min || value > max)
                return -1;
        *out = value;
        return 0;
}

/** Kafka topic names: 1..249 characters of [a-zA-Z0-9._-]. */
static int valid_topic_name(const char *name) {
        size_t len = strlen(name);
        if (len == 0 || len > MAX_TOPIC_NAME)
                return 0;
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/*
 * NOTE: librdkafka 2.0.2's mock never sets the cluster's controller id (its struct is zero-allocated)
 * while broker ids start at 1, so Metadata reports controller 0 and kafkajs fails with
 * "Broker 0 not found" for the idempotent producer and admin calls. No public setter exists before
 * 2.15 (rd_kafka_mock_set_controller_id). Every upstream layout of the private
 * struct rd_kafka_mock_cluster_s from 1.9 to 2.15 begins with the fields below; they are checked
 * before the write and the launcher refuses to run when they do not match.
 */
struct mock_cluster_head {
        char id[32]; /* "mockCluster<hex>" */
        rd_kafka_t *rk;
        int32_t controller_id;
};

/** Sets the controller id after verifying the struct layout; returns a reason on mismatch, else NULL. */
static const char *set_controller_id(rd_kafka_mock_cluster_t *mcluster, rd_kafka_t *rk, int32_t id) {
        struct mock_cluster_head *head = (struct mock_cluster_head *)mcluster;
        static const char prefix[] = "mockCluster";

        if (!memchr(head->id, '\0', sizeof(head->id)) || strncmp(head->id, prefix, sizeof(prefix) - 1) != 0)
                return "the cluster id field does not start with \"mockCluster\"";
        if (head->rk != rk || rd_kafka_mock_cluster_handle(mcluster) != rk)
                return "the rd_kafka_t field does not hold the handle the cluster was created with";
        if (head->controller_id != 0 && head->controller_id != id)
                return "the controller_id field is neither unset (0) nor the expected id";
        head->controller_id = id;
        return NULL;
}

/** Creates a topic; returns NULL or a reason. */
static const char *create_topic(const char *name, long partitions) {
        int replication = broker_count < MAX_REPLICATION ? broker_count : MAX_REPLICATION;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, name, (int)partitions, replication);
        return err ? rd_kafka_err2str(err) : NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Commands                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

#define MAX_ARGS 4

/** Writes one answer line and flushes; a closed stdout ends the process. */
static void reply(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (fflush(stdout) != 0)
                exit(EXIT_RUNTIME);
}

static void reply_err(rd_kafka_resp_err_t err) {
        if (err)
                reply("error %s", rd_kafka_err2str(err));
        else
                reply("ok");
}

/** Parses a broker id argument (1..N, or -1 when allow_none) or replies with an error. */
static int broker_arg(const char *text, int allow_none, int32_t *out) {
        long id;
        if (parse_int(text, allow_none ? -1 : 1, broker_count, &id) == 0 && id != 0) {
                *out = (int32_t)id;
                return 0;
        }
        reply("error unknown broker id \"%s\" (brokers are 1..%d%s)", text, broker_count,
              allow_none ? ", or -1 for none" : "");
        return -1;
}

static int int_arg(const char *what, const char *text, long min, long max, long *out) {
        if (parse_int(text, min, max, out) == 0)
                return 0;
        reply("error invalid %s \"%s\" (expected an integer %ld..%ld)", what, text, min, max);
        return -1;
}

static int topic_arg(const char *text) {
        if (valid_topic_name(text))
                return 0;
        reply("error invalid topic name \"%s\" (1..249 of [a-zA-Z0-9._-])", text);
        return -1;
}

static void cmd_fail(char **argv) {
        long api_key, code, count, i;
        rd_kafka_resp_err_t *errors;
        if (int_arg("apiKey", argv[1], 0, INT16_MAX, &api_key) ||
            int_arg("errorCode", argv[2], INT32_MIN, INT32_MAX, &code) ||
            int_arg("count", argv[3], 1, MAX_ERROR_COUNT, &count))
                return;
        if (!(errors = malloc(sizeof(*errors) * (size_t)count))) {
                reply("error out of memory");
                return;
        }
        for (i = 0; i < count; i++)
                errors[i] = (rd_kafka_resp_err_t)code;
        rd_kafka_mock_push_request_errors_array(cluster, (int16_t)api_key, (size_t)count, errors);
        free(errors);
        reply("ok");
}

/** Runs one command line (already split into words) and replies exactly once. */
static void run_command(int argc, char **argv) {
        static const struct {
                const char *name;
                int argc;
                const char *synopsis;
        } commands[] = {
            {"down", 2, "down <brokerId>"},
            {"up", 2, "up <brokerId>"},
            {"rtt", 3, "rtt <brokerId> <ms>"},
            {"fail", 4, "fail <apiKey> <errorCode> <count>"},
            {"clear", 2, "clear <apiKey>"},
            {"topic", 3, "topic <name> <partitions>"},
            {"leader", 4, "leader <topic> <partition> <brokerId>"},
        };
        const char *name = argv[0];
        size_t i;
        int32_t broker;
        long n, m;

        for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(name, commands[i].name))
                        break;
        if (i == sizeof(commands) / sizeof(commands[0])) {
                reply("error unknown command \"%s\" (commands: down, up, rtt, fail, clear, topic, leader)",
                      name);
                return;
        }
        if (argc != commands[i].argc) {
                reply("error wrong number of arguments for \"%s\": usage: %s", name, commands[i].synopsis);
                return;
        }

        if (!strcmp(name, "down")) {
                if (broker_arg(argv[1], 0, &broker) == 0)
                        reply_err(rd_kafka_mock_broker_set_down(cluster, broker));
        } else if (!strcmp(name, "up")) {
                if (broker_arg(argv[1], 0, &broker) == 0)
                        reply_err(rd_kafka_mock_broker_set_up(cluster, broker));
        } else if (!strcmp(name, "rtt")) {
                if (broker_arg(argv[1], 0, &broker) == 0 && int_arg("ms", argv[2], 0, INT_MAX, &n) == 0)
                        reply_err(rd_kafka_mock_broker_set_rtt(cluster, broker, (int)n));
        } else if (!strcmp(name, "fail")) {
                cmd_fail(argv);
        } else if (!strcmp(name, "clear")) {
                if (int_arg("apiKey", argv[1], 0, INT16_MAX, &n) == 0) {
                        rd_kafka_mock_clear_request_errors(cluster, (int16_t)n);
                        reply("ok");
                }
        } else if (!strcmp(name, "topic")) {
                if (topic_arg(argv[1]) == 0 && int_arg("partitions", argv[2], 1, MAX_PARTITIONS, &n) == 0) {
                        const char *why = create_topic(argv[1], n);
                        if (why)
                                reply("error cannot create topic \"%s\": %s", argv[1], why);
                        else
                                reply("ok");
                }
        } else if (!strcmp(name, "leader")) {
                if (topic_arg(argv[1]) == 0 && int_arg("partition", argv[2], 0, MAX_PARTITIONS - 1, &m) == 0 &&
                    broker_arg(argv[3], 1, &broker) == 0)
                        reply_err(rd_kafka_mock_partition_set_leader(cluster, argv[1], (int32_t)m, broker));
        }
}

/** Splits a line into words and runs it; an empty line is an error too (one answer per line). */
static void handle_line(char *line) {
        char *argv[MAX_ARGS + 1];
        int argc = 0;
        char *save = NULL, *word;

        for (word = strtok_r(line, " \t\r", &save); word; word = strtok_r(NULL, " \t\r", &save)) {
                if (argc == MAX_ARGS + 1) {
                        reply("error too many arguments for \"%s\"", argv[0]);
                        return;
                }
                argv[argc++] = word;
        }
        if (argc == 0)
                reply("error empty command");
        else
                run_command(argc, argv);
}

/* ---------------------------------------------------------------------------------------------- */
/* Main loop                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

static void on_signal(int sig) {
        int saved = errno;
        unsigned char byte = (unsigned char)sig;
        /* Runs on whichever thread got the signal; the command loop polls the pipe. */
        if (write(signal_pipe[1], &byte, 1) < 0) {
                /* nothing safe to do here */
        }
        errno = saved;
}

static void install_signal_handlers(void) {
        struct sigaction sa;
        if (pipe(signal_pipe) != 0) {
                perror("kafka-standin: pipe");
                exit(EXIT_RUNTIME);
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}

/** Reads command lines from stdin until EOF or a termination signal. */
static void serve(void) {
        char buf[LINE_SIZE];
        size_t len = 0;
        int discarding = 0; /* inside an over-long line */

        for (;;) {
                struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}};
                ssize_t got;
                char *start, *newline;

                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("kafka-standin: poll");
                        return;
                }
                if (fds[1].revents)
                        return;
                if (!fds[0].revents)
                        continue;

                got = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0) {
                        if (len > 0 && !discarding) { /* a last line without newline */
                                buf[len] = '\0';
                                handle_line(buf);
                        }
                        return;
                }
                len += (size_t)got;
                buf[len] = '\0';

                start = buf;
                while ((newline = memchr(start, '\n', len - (size_t)(start - buf)))) {
                        *newline = '\0';
                        if (discarding)
                                discarding = 0;
                        else
                                handle_line(start);
                        start = newline + 1;
                }
                len -= (size_t)(start - buf);
                memmove(buf, start, len);
                if (len == sizeof(buf) - 1) {
                        if (!discarding)
                                reply("error line longer than %d bytes", LINE_SIZE - 2);
                        discarding = 1;
                        len = 0;
                }
        }
}

/* ---------------------------------------------------------------------------------------------- */
/* Startup                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

struct topic_spec {
        const char *name;
        long partitions;
};

/** Parses "name:partitions" in place (the last ':' separates); exits with a usage error if bad. */
static struct topic_spec parse_topic_spec(char *arg) {
        struct topic_spec spec;
        char *colon = strrchr(arg, ':');
        char *original = strdup(arg);
        if (!colon)
                usage_error("invalid --topic \"%s\": expected name:partitions", original);
        *colon = '\0';
        if (!valid_topic_name(arg))
                usage_error("invalid --topic \"%s\": topic name must be 1..249 of [a-zA-Z0-9._-]", original);
        if (parse_int(colon + 1, 1, MAX_PARTITIONS, &spec.partitions))
                usage_error("invalid --topic \"%s\": partitions must be an integer 1..%d", original,
                            MAX_PARTITIONS);
        free(original);
        spec.name = arg;
        return spec;
}

/** Logs librdkafka warnings and errors to stderr (the mock cluster logs through the handle). */
static void log_to_stderr(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void)rk;
        fprintf(stderr, "kafka-standin: librdkafka %d %s: %s\n", level, fac, buf);
}

int main(int argc, char **argv) {
        struct topic_spec *topics = calloc((size_t)argc, sizeof(*topics));
        int topic_count = 0, i;
        long n;
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        const char *why;

        for (i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(argv[i], "--brokers")) {
                        if (i + 1 >= argc)
                                usage_error("--brokers needs a value");
                        if (parse_int(argv[++i], 1, MAX_BROKERS, &n))
                                usage_error("invalid --brokers \"%s\": expected an integer 1..%d", argv[i],
                                            MAX_BROKERS);
                        broker_count = (int)n;
                } else if (!strcmp(argv[i], "--topic")) {
                        if (i + 1 >= argc)
                                usage_error("--topic needs a value (name:partitions)");
                        topics[topic_count++] = parse_topic_spec(argv[++i]);
                } else {
                        usage_error("unknown argument \"%s\"", argv[i]);
                }
        }

        install_signal_handlers();

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, log_to_stderr);
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka-standin: %s\n", errstr);
                return EXIT_RUNTIME;
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "kafka-standin: cannot create a librdkafka handle: %s\n", errstr);
                return EXIT_RUNTIME;
        }
        if (!(cluster = rd_kafka_mock_cluster_new(rk, broker_count))) {
                fprintf(stderr, "kafka-standin: cannot start a mock cluster of %d brokers\n", broker_count);
                return EXIT_RUNTIME;
        }
        if ((why = set_controller_id(cluster, rk, CONTROLLER_ID))) {
                fprintf(stderr,
                        "kafka-standin: refusing to start: librdkafka %s has an unexpected mock cluster "
                        "layout (%s), so the controller id cannot be set and kafkajs would fail with "
                        "\"Broker 0 not found\". Install librdkafka-dev 2.0.x (apt-get install -y "
                        "librdkafka-dev) or adapt launcher.c.\n",
                        rd_kafka_version_str(), why);
                return EXIT_LAYOUT;
        }
        for (i = 0; i < topic_count; i++) {
                if ((why = create_topic(topics[i].name, topics[i].partitions))) {
                        fprintf(stderr, "kafka-standin: cannot create --topic \"%s:%ld\": %s\n", topics[i].name,
                                topics[i].partitions, why);
                        return EXIT_USAGE;
                }
        }
        free(topics);

        reply("%s", rd_kafka_mock_cluster_bootstraps(cluster));
        serve();

        rd_kafka_mock_cluster_destroy(cluster);
        rd_kafka_destroy(rk);
        return 0;
}
