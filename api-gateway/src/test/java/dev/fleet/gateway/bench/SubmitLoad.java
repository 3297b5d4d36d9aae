package dev.fleet.gateway.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load on the gateway from a fixed number of concurrent clients, each on its own keep-alive
 * HTTP/1.1 connection ({@link KeepAliveConnection}, lighter than the JDK's client, so that the
 * generator leaves the shared cores to what it measures), a bounded number of requests, then
 * successful answers/s and their latency percentiles. Only a gateway on this machine (a loopback
 * address) is accepted as a target. Plain JDK, no dependencies:
 *
 * <pre>
 * java -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SubmitLoad \
 *     [--url http://localhost:8080] [--mode submit|read|poll] [--requests 2000]
 *     [--concurrency 16] [--warmup 200] [--jobs 200] [--rate 0] [--slowest 0]
 * </pre>
 *
 * <p>Without {@code --rate} the clients are a closed loop: each sends its next request when the
 * last one is answered, so the latency measured is what {@code --concurrency} clients see at the
 * gateway's saturation. With {@code --rate R} the load is open: request {@code i} is due {@code
 * i/R} seconds after the start and is sent by the next free client, and its latency counts from
 * when it was due, not when it was sent (a gateway that falls behind is charged for the wait too);
 * {@code --concurrency} is then only how many requests may be in flight at once. {@code --slowest
 * K} prints the K slowest requests with when each was sent, to set beside a GC log or other events.
 *
 * <ul>
 *   <li>{@code submit} (the default): {@code POST /v1/jobs}; success is a 202.
 *   <li>{@code read}: {@code GET /v1/jobs/{id}} round-robin over the tenant's newest {@code --jobs}
 *       queued jobs (listed first); success is a 200.
 *   <li>{@code poll}: as {@code read}, but each request sends the ETag of the last answer for its
 *       job in {@code If-None-Match}, as a poller does; success is a 200 or a 304.
 * </ul>
 *
 * <p>The API key is {@code $FLEET_API_KEY} (sent as {@code Authorization: Bearer}); give its tenant
 * no limits for a run ({@code -Dfleet.limits.tenants."NAME".submit-rate=0} and {@code
 * max-active-jobs=0} on the gateway).
 */
public final class SubmitLoad {
  private static final Duration MAX_RUN = Duration.ofMinutes(10);
  private static final String KEY = System.getenv().getOrDefault("FLEET_API_KEY", "");
  private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");

  private SubmitLoad() {}

  enum Mode {
    SUBMIT,
    READ,
    POLL
  }

  public static void main(String[] args) throws Exception {
    URI base = URI.create("http://localhost:8080");
    Mode mode = Mode.SUBMIT;
    int requests = 2000;
    int concurrency = 16;
    int warmup = 200;
    int jobCount = 200;
    double rate = 0;
    int slowest = 0;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--url" -> base = URI.create(args[i + 1]);
        case "--mode" -> mode = Mode.valueOf(args[i + 1].toUpperCase(Locale.ROOT));
        case "--requests" -> requests = Integer.parseInt(args[i + 1]);
        case "--concurrency" -> concurrency = Integer.parseInt(args[i + 1]);
        case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
        case "--jobs" -> jobCount = Integer.parseInt(args[i + 1]);
        case "--rate" -> rate = Double.parseDouble(args[i + 1]);
        case "--slowest" -> slowest = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!InetAddress.getByName(base.getHost()).isLoopbackAddress()) {
      throw new IllegalArgumentException("only a gateway on this machine: " + base);
    }
    Load load = mode == Mode.SUBMIT ? new Submit() : new Read(queuedJobs(base, jobCount), mode);
    System.out.printf(
        Locale.ROOT,
        "%s %s, %d requests (+%d warm-up), %d concurrent%s%n",
        mode.name().toLowerCase(Locale.ROOT),
        base,
        requests,
        warmup,
        concurrency,
        rate > 0 ? String.format(Locale.ROOT, ", due at %.0f/s", rate) : "");
    run(base, load, warmup, concurrency, rate, "warmup");
    Result r = run(base, load, requests, concurrency, rate, "run");
    long[] ms = r.latenciesNanos();
    Arrays.sort(ms);
    System.out.printf(
        Locale.ROOT,
        "%d requests in %.2f s: %.1f/s successful; by status %s, errors %d%n",
        requests,
        r.seconds(),
        r.succeeded() / r.seconds(),
        new TreeMap<>(r.byStatus()),
        r.errors());
    if (ms.length > 0) {
      System.out.printf(
          Locale.ROOT,
          "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f%n",
          pct(ms, 50),
          pct(ms, 90),
          pct(ms, 99),
          ms[ms.length - 1] / 1e6);
    }
    printSlowest(r, slowest);
  }

  /** The {@code k} slowest successful requests: when each was sent (UTC) and how long it took. */
  private static void printSlowest(Result r, int k) {
    Integer[] order = new Integer[r.latenciesNanos().length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Long.compare(r.latenciesNanos()[b], r.latenciesNanos()[a]));
    for (int i = 0; i < Math.min(k, order.length); i++) {
      int j = order[i];
      System.out.printf(
          Locale.ROOT,
          "slow: sent %s took %.1f ms%n",
          java.time.Instant.ofEpochMilli(r.sentMillis()[j]),
          r.latenciesNanos()[j] / 1e6);
    }
  }

  /** What one kind of load sends, and which answers count as successes. */
  private interface Load {
    String request(int index, String tag);

    boolean succeeded(int index, KeepAliveConnection.Answer answer);
  }

  private record Submit() implements Load {
    @Override
    public String request(int index, String tag) {
      String body =
          "{\"prompt\":\"load "
              + tag
              + " "
              + index
              + ": a red fox in the snow\",\"seed\":"
              + index
              + "}";
      return KeepAliveConnection.request(
          "POST", "/v1/jobs", List.of(auth(), "Content-Type: application/json"), body);
    }

    @Override
    public boolean succeeded(int index, KeepAliveConnection.Answer answer) {
      return answer.status() == 202;
    }
  }

  /** GETs of known jobs, round-robin; in poll mode each sends its last ETag. */
  private record Read(List<String> ids, Mode mode, Map<String, String> etags) implements Load {
    Read(List<String> ids, Mode mode) {
      this(ids, mode, new ConcurrentHashMap<>());
    }

    @Override
    public String request(int index, String tag) {
      String id = ids.get(index % ids.size());
      String etag = mode == Mode.POLL ? etags.get(id) : null;
      List<String> headers =
          etag == null ? List.of(auth()) : List.of(auth(), "If-None-Match: " + etag);
      return KeepAliveConnection.request("GET", "/v1/jobs/" + id, headers, null);
    }

    @Override
    public boolean succeeded(int index, KeepAliveConnection.Answer answer) {
      if (answer.etag() != null) {
        etags.put(ids.get(index % ids.size()), answer.etag());
      }
      return answer.status() == 200 || (mode == Mode.POLL && answer.status() == 304);
    }
  }

  private static String auth() {
    return "Authorization: Bearer " + KEY;
  }

  /** The ids of the tenant's newest {@code n} queued jobs (at most one page of 200). */
  private static List<String> queuedJobs(URI base, int n) throws IOException {
    int limit = Math.max(1, Math.min(n, 200));
    KeepAliveConnection.Answer page;
    try (KeepAliveConnection c = new KeepAliveConnection(base)) {
      page =
          c.exchange(
              KeepAliveConnection.request(
                  "GET", "/v1/jobs?status=QUEUED&limit=" + limit, List.of(auth()), null));
    }
    if (page.status() != 200) {
      throw new IllegalStateException("listing jobs: " + page.status() + " " + page.body());
    }
    List<String> ids = new ArrayList<>();
    Matcher m = ID.matcher(page.body());
    while (m.find()) {
      ids.add(m.group(1));
    }
    if (ids.isEmpty()) {
      throw new IllegalStateException("the tenant has no queued job to read");
    }
    return ids;
  }

  record Result(
      double seconds,
      int succeeded,
      Map<Integer, Integer> byStatus,
      int errors,
      long[] latenciesNanos,
      long[] sentMillis) {}

  /**
   * {@code n} requests from {@code concurrency} clients, each on its own connection; with {@code
   * rate} above 0, request {@code i} is due at {@code i / rate} s and timed from then.
   */
  private static Result run(URI base, Load load, int n, int concurrency, double rate, String tag)
      throws InterruptedException {
    long[] latencies = new long[n];
    long[] sent = new long[n];
    AtomicInteger succeeded = new AtomicInteger();
    Map<Integer, Integer> byStatus = new ConcurrentHashMap<>();
    AtomicInteger errors = new AtomicInteger();
    AtomicInteger next = new AtomicInteger();
    long deadline = System.nanoTime() + MAX_RUN.toNanos();
    long start = System.nanoTime();
    List<Thread> clients = new ArrayList<>();
    for (int t = 0; t < concurrency; t++) {
      clients.add(
          Thread.ofPlatform()
              .name("client-" + t)
              .start(
                  () -> {
                    KeepAliveConnection c = null;
                    for (int i = next.getAndIncrement();
                        i < n && System.nanoTime() < deadline;
                        i = next.getAndIncrement()) {
                      try {
                        if (c == null) {
                          c = new KeepAliveConnection(base);
                        }
                        String request = load.request(i, tag);
                        long t0 = System.nanoTime();
                        if (rate > 0) {
                          long due = start + (long) (i * 1e9 / rate);
                          for (long now = t0; now < due; now = System.nanoTime()) {
                            LockSupport.parkNanos(due - now);
                          }
                          t0 = due;
                        }
                        KeepAliveConnection.Answer answer = c.exchange(request);
                        long took = System.nanoTime() - t0;
                        byStatus.merge(answer.status(), 1, Integer::sum);
                        if (load.succeeded(i, answer)) {
                          int k = succeeded.getAndIncrement();
                          latencies[k] = took;
                          sent[k] = System.currentTimeMillis() - took / 1_000_000;
                        }
                        if (answer.closed()) {
                          c.close();
                          c = null;
                        }
                      } catch (IOException | RuntimeException e) {
                        errors.incrementAndGet();
                        if (c != null) {
                          c.close();
                          c = null;
                        }
                      }
                    }
                    if (c != null) {
                      c.close();
                    }
                  }));
    }
    for (Thread client : clients) {
      client.join();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Result(
        seconds,
        succeeded.get(),
        byStatus,
        errors.get(),
        Arrays.copyOf(latencies, succeeded.get()),
        Arrays.copyOf(sent, succeeded.get()));
  }

  private static double pct(long[] sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(i, sorted.length - 1))] / 1e6;
  }
}
