package dev.fleet.gateway.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * SSE fan-out: {@code --subscribers} streams ({@code GET /v1/jobs/{id}/events}, one connection and
 * one virtual thread each) spread round-robin over {@code --jobs} jobs that this tool submits; once
 * every stream has its first event, the jobs are cancelled ({@code DELETE /v1/jobs/{id}}) at {@code
 * --rate} per second, and each stream times its CANCELLED event from the moment the DELETE was
 * sent. Prints the delays' percentiles and how many streams got their event. Plain JDK:
 *
 * <pre>
 * java -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SseLoad \
 *     [--url http://localhost:8080] [--subscribers 1000] [--jobs 1000] [--rate 200]
 * </pre>
 *
 * <p>The API key is {@code $FLEET_API_KEY}; its tenant needs no limits (see {@link SubmitLoad}).
 */
public final class SseLoad {
  private static final String KEY = System.getenv().getOrDefault("FLEET_API_KEY", "");
  private static final Pattern ID = Pattern.compile("\"id\":\"([0-9a-f-]{36})\"");

  private SseLoad() {}

  public static void main(String[] args) throws Exception {
    URI base = URI.create("http://localhost:8080");
    int subscribers = 1000;
    int jobCount = 1000;
    int rate = 200;
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--url" -> base = URI.create(args[i + 1]);
        case "--subscribers" -> subscribers = Integer.parseInt(args[i + 1]);
        case "--jobs" -> jobCount = Integer.parseInt(args[i + 1]);
        case "--rate" -> rate = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!InetAddress.getByName(base.getHost()).isLoopbackAddress()) {
      throw new IllegalArgumentException("only a gateway on this machine: " + base);
    }
    URI target = base;
    List<String> jobs = submit(target, jobCount);
    long[] cancelSent = new long[jobCount];
    long[] delays = new long[subscribers];
    Arrays.fill(delays, -1);
    CountDownLatch subscribed = new CountDownLatch(subscribers);
    CountDownLatch ended = new CountDownLatch(subscribers);
    AtomicInteger failed = new AtomicInteger();
    long t0 = System.nanoTime();
    for (int s = 0; s < subscribers; s++) {
      int sub = s;
      int job = s % jobCount;
      Thread.ofVirtual()
          .start(
              () -> {
                boolean[] opened = {false};
                Runnable onFirstEvent =
                    () -> {
                      opened[0] = true;
                      subscribed.countDown();
                    };
                try {
                  follow(target, jobs.get(job), onFirstEvent, () -> cancelSent[job], delays, sub);
                } catch (IOException | RuntimeException e) {
                  failed.incrementAndGet();
                  if (!opened[0]) {
                    subscribed.countDown();
                  }
                } finally {
                  ended.countDown();
                }
              });
    }
    if (!subscribed.await(5, TimeUnit.MINUTES)) {
      throw new IllegalStateException("streams did not open: " + subscribed.getCount() + " left");
    }
    System.out.printf(
        Locale.ROOT,
        "%d streams over %d jobs open in %.1f s (%d failed)%n",
        subscribers,
        jobCount,
        (System.nanoTime() - t0) / 1e9,
        failed.get());
    long start = System.nanoTime();
    long[] cancelLatency = new long[jobCount];
    try (KeepAliveConnection c = new KeepAliveConnection(base)) {
      for (int j = 0; j < jobCount; j++) {
        long due = start + (long) (j * 1e9 / rate);
        while (System.nanoTime() < due) {
          Thread.sleep(0, 200_000);
        }
        long sent = System.nanoTime();
        cancelSent[j] = sent;
        KeepAliveConnection.Answer a =
            c.exchange(
                KeepAliveConnection.request(
                    "DELETE", "/v1/jobs/" + jobs.get(j), List.of(auth()), null));
        cancelLatency[j] = System.nanoTime() - sent;
        if (a.status() != 200) {
          throw new IllegalStateException("cancel: " + a.status() + " " + a.body());
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    ended.await(60, TimeUnit.SECONDS);
    System.out.printf(Locale.ROOT, "%d streams failed in all%n", failed.get());
    long[] got = Arrays.stream(delays).filter(d -> d >= 0).sorted().toArray();
    Arrays.sort(cancelLatency);
    System.out.printf(
        Locale.ROOT,
        "%d cancels in %.1f s (%.0f/s); DELETE ms p50 %.1f p99 %.1f%n",
        jobCount,
        seconds,
        jobCount / seconds,
        pct(cancelLatency, 50),
        pct(cancelLatency, 99));
    System.out.printf(
        Locale.ROOT,
        "%d of %d streams got their CANCELLED event; delay from DELETE sent, ms: p50 %.1f  p90 %.1f"
            + "  p99 %.1f  max %.1f%n",
        got.length,
        subscribers,
        pct(got, 50),
        pct(got, 90),
        pct(got, 99),
        got.length == 0 ? 0 : got[got.length - 1] / 1e6);
  }

  private interface Clock {
    long cancelSent();
  }

  /** One stream: waits for its first event, then for the CANCELLED one, and times it. */
  private static void follow(
      URI base, String job, Runnable onFirstEvent, Clock cancel, long[] delays, int sub)
      throws IOException {
    try (Socket socket = new Socket(base.getHost(), base.getPort())) {
      OutputStream out = socket.getOutputStream();
      out.write(
          ("GET /v1/jobs/"
                  + job
                  + "/events HTTP/1.1\r\nHost: "
                  + base.getHost()
                  + "\r\nAccept: text/event-stream\r\n"
                  + auth()
                  + "\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8), 4096);
      String status = in.readLine();
      if (status == null || !status.contains(" 200 ")) {
        throw new IOException("stream refused: " + status);
      }
      boolean first = true;
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (!line.startsWith("data:")) {
          continue; // headers, chunk sizes, event names, ids, keep-alives
        }
        if (first) {
          first = false;
          onFirstEvent.run();
        }
        if (line.contains("\"status\":\"CANCELLED\"")) {
          delays[sub] = System.nanoTime() - cancel.cancelSent();
          return;
        }
      }
      throw new IOException(first ? "stream closed before its first event" : "stream ended early");
    }
  }

  private static List<String> submit(URI base, int n) throws IOException {
    List<String> ids = new ArrayList<>(n);
    try (KeepAliveConnection c = new KeepAliveConnection(base)) {
      for (int i = 0; i < n; i++) {
        KeepAliveConnection.Answer a =
            c.exchange(
                KeepAliveConnection.request(
                    "POST",
                    "/v1/jobs",
                    List.of(auth(), "Content-Type: application/json"),
                    "{\"prompt\":\"sse load " + i + ": a red fox in the snow\"}"));
        Matcher m = ID.matcher(a.body());
        if (a.status() != 202 || !m.find()) {
          throw new IllegalStateException("submit: " + a.status() + " " + a.body());
        }
        ids.add(m.group(1));
      }
    }
    return ids;
  }

  private static String auth() {
    return "Authorization: Bearer " + KEY;
  }

  private static double pct(long[] sorted, int p) {
    if (sorted.length == 0) {
      return 0;
    }
    int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(i, sorted.length - 1))] / 1e6;
  }
}
