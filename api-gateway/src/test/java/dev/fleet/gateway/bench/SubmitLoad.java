package dev.fleet.gateway.bench;

import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Load on the submit path: {@code POST /v1/jobs} from a fixed number of concurrent clients, a
 * bounded number of requests, then submissions/s and the latency percentiles of the 202s. Only a
 * gateway on this machine (a loopback address) is accepted as a target. Plain JDK, no dependencies:
 *
 * <pre>
 * java -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SubmitLoad \
 *     [--url http://localhost:8080] [--requests 2000] [--concurrency 16] [--warmup 200]
 * </pre>
 *
 * <p>The API key is {@code $FLEET_API_KEY} (sent as {@code Authorization: Bearer}); give its tenant
 * no limits for a run ({@code -Dfleet.limits.tenants."NAME".submit-rate=0} and {@code
 * max-active-jobs=0} on the gateway).
 */
public final class SubmitLoad {
  private static final Duration MAX_RUN = Duration.ofMinutes(10);
  private static final String KEY = System.getenv().getOrDefault("FLEET_API_KEY", "");

  private SubmitLoad() {}

  public static void main(String[] args) throws Exception {
    URI base = URI.create("http://localhost:8080");
    int requests = 2000;
    int concurrency = 16;
    int warmup = 200;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--url" -> base = URI.create(args[i + 1]);
        case "--requests" -> requests = Integer.parseInt(args[i + 1]);
        case "--concurrency" -> concurrency = Integer.parseInt(args[i + 1]);
        case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!InetAddress.getByName(base.getHost()).isLoopbackAddress()) {
      throw new IllegalArgumentException("only a gateway on this machine: " + base);
    }
    URI jobs = base.resolve("/v1/jobs");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    System.out.printf(
        Locale.ROOT,
        "target %s, %d requests (+%d warm-up), %d concurrent%n",
        jobs,
        requests,
        warmup,
        concurrency);
    run(http, jobs, warmup, concurrency, "warmup");
    Result r = run(http, jobs, requests, concurrency, "run");
    long[] ms = r.latenciesNanos();
    Arrays.sort(ms);
    System.out.printf(
        Locale.ROOT,
        "submitted %d in %.2f s: %.1f submissions/s; 202s %d, other %d, errors %d%n",
        requests,
        r.seconds(),
        r.accepted() / r.seconds(),
        r.accepted(),
        r.otherStatus(),
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
  }

  record Result(double seconds, int accepted, int otherStatus, int errors, long[] latenciesNanos) {}

  private static Result run(HttpClient http, URI jobs, int n, int concurrency, String tag)
      throws InterruptedException {
    long[] latencies = new long[n];
    AtomicInteger accepted = new AtomicInteger();
    AtomicInteger other = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    AtomicLong next = new AtomicLong();
    Semaphore slots = new Semaphore(concurrency);
    long deadline = System.nanoTime() + MAX_RUN.toNanos();
    long start = System.nanoTime();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < n && System.nanoTime() < deadline; i++) {
        slots.acquire();
        int index = (int) next.getAndIncrement();
        pool.submit(
            () -> {
              try {
                String body =
                    "{\"prompt\":\"load "
                        + tag
                        + " "
                        + index
                        + ": a red fox in the snow\",\"seed\":"
                        + index
                        + "}";
                HttpRequest request =
                    HttpRequest.newBuilder(jobs)
                        .header("Authorization", "Bearer " + KEY)
                        .timeout(Duration.ofSeconds(30))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build();
                long t0 = System.nanoTime();
                HttpResponse<Void> response =
                    http.send(request, HttpResponse.BodyHandlers.discarding());
                long took = System.nanoTime() - t0;
                if (response.statusCode() == 202) {
                  latencies[accepted.getAndIncrement()] = took;
                } else {
                  other.incrementAndGet();
                }
              } catch (Exception e) {
                errors.incrementAndGet();
              } finally {
                slots.release();
              }
            });
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Result(
        seconds,
        accepted.get(),
        other.get(),
        errors.get(),
        Arrays.copyOf(latencies, accepted.get()));
  }

  private static double pct(long[] sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(i, sorted.length - 1))] / 1e6;
  }
}
