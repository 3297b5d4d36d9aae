package dev.fleet.launcher;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A small client of the gateway's jobs API ({@code /v1/jobs}): submit, follow (Server-Sent Events,
 * polling when the stream is not available), download the result from its presigned link.
 */
final class FleetClient implements AutoCloseable {
  static final Set<String> TERMINAL = Set.of("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT");
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  private static final long POLL_MILLIS = 200;
  static final ObjectMapper JSON = new ObjectMapper();

  private final URI base;
  private final String apiKey;
  private final HttpClient http;

  /** An error answer of the API, with its problem detail (RFC 9457) when it sent one. */
  static final class ApiException extends IOException {
    final int status;
    final JsonNode problem; // null unless application/problem+json (or JSON)

    ApiException(int status, JsonNode problem, String message) {
      super(message);
      this.status = status;
      this.problem = problem;
    }

    /** The fields named in the problem's {@code errors}, with their messages. */
    List<String[]> fieldErrors() {
      List<String[]> list = new ArrayList<>();
      if (problem != null && problem.path("errors").isArray()) {
        for (JsonNode e : problem.path("errors")) {
          list.add(new String[] {e.path("field").asText(), e.path("message").asText()});
        }
      }
      return list;
    }
  }

  /** What a job looks like while it is followed. */
  record Update(String status, int step, int steps, JsonNode raw) {
    boolean terminal() {
      return TERMINAL.contains(status);
    }
  }

  /**
   * @param apiKey sent as {@code Authorization: Bearer} with every call to the gateway (not to the
   *     presigned link); null for none
   */
  FleetClient(URI base, String apiKey) {
    this.base = base;
    this.apiKey = apiKey;
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
  }

  URI base() {
    return base;
  }

  /** A request to the gateway at {@code path}, with the API key. */
  private HttpRequest.Builder api(String path) {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST_TIMEOUT);
    if (apiKey != null) {
      b.header("Authorization", "Bearer " + apiKey);
    }
    return b;
  }

  /** {@code POST /v1/jobs}: the job as the 202 shows it. */
  JsonNode submit(ObjectNode body) throws IOException {
    HttpRequest request =
        api("/v1/jobs")
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
            .build();
    return json(send(request), "POST /v1/jobs");
  }

  /** {@code GET /v1/jobs/{id}}. */
  JsonNode job(String id) throws IOException {
    HttpRequest request = api("/v1/jobs/" + id).header("Accept", "application/json").GET().build();
    return json(send(request), "GET /v1/jobs/" + id);
  }

  /**
   * Follows the job until it ends, calling {@code onUpdate} for every change, and returns the
   * finished job ({@code GET /v1/jobs/{id}}).
   *
   * @throws DeadlineException when {@code deadline} passes first
   */
  JsonNode follow(String id, Instant deadline, Consumer<Update> onUpdate) throws IOException {
    boolean ended;
    try {
      ended = stream(id, deadline, onUpdate);
    } catch (ApiException e) {
      throw e;
    } catch (IOException e) {
      ended = false; // no stream (a proxy, an older gateway): poll instead
    }
    while (!ended) {
      checkDeadline(id, deadline);
      Update u = update(job(id));
      onUpdate.accept(u);
      ended = u.terminal();
      if (!ended) {
        sleep(POLL_MILLIS);
      }
    }
    return job(id);
  }

  /** Reads {@code GET /v1/jobs/{id}/events}; true once a terminal status was seen. */
  private boolean stream(String id, Instant deadline, Consumer<Update> onUpdate)
      throws IOException {
    HttpRequest request =
        api("/v1/jobs/" + id + "/events").header("Accept", "text/event-stream").GET().build();
    HttpResponse<InputStream> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (response.statusCode() != 200) {
      byte[] body = response.body().readAllBytes();
      if (response.statusCode() == 404 || response.statusCode() == 401) {
        throw problem(response.statusCode(), response, body, "GET /v1/jobs/" + id + "/events");
      }
      return false;
    }
    // The stream sends a keep-alive every 15 s: a timer closes it at the deadline.
    ScheduledExecutorService timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "fleet-run-deadline");
              t.setDaemon(true);
              return t;
            });
    InputStream in = response.body();
    ScheduledFuture<?> alarm =
        timer.schedule(
            () -> {
              try {
                in.close();
              } catch (IOException e) {
                // the reader fails
              }
            },
            Math.max(0, Duration.between(Instant.now(), deadline).toMillis()),
            TimeUnit.MILLISECONDS);
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      StringBuilder data = new StringBuilder();
      String line;
      while ((line = reader.readLine()) != null) {
        if (line.isEmpty()) {
          if (!data.isEmpty()) {
            Update u = update(JSON.readTree(data.toString()));
            data.setLength(0);
            onUpdate.accept(u);
            if (u.terminal()) {
              return true;
            }
          }
        } else if (line.startsWith("data:")) {
          if (!data.isEmpty()) {
            data.append('\n');
          }
          data.append(line.substring(line.startsWith("data: ") ? 6 : 5));
        }
        // event:, id:, retry: and comments: the data says all we need
      }
      return false;
    } catch (IOException e) {
      checkDeadline(id, deadline);
      throw e;
    } finally {
      alarm.cancel(false);
      timer.shutdownNow();
    }
  }

  /** Downloads {@code url} (the presigned result link) to {@code out}; returns its size. */
  long download(URI url, Path out) throws IOException {
    HttpRequest request = HttpRequest.newBuilder(url).timeout(REQUEST_TIMEOUT).GET().build();
    Path dir = out.toAbsolutePath().getParent();
    // Not Files.createTempFile: that one is private (0600), and the move would keep it so.
    Path tmp =
        dir.resolve("." + out.getFileName() + "." + Long.toHexString(System.nanoTime()) + ".part");
    try {
      HttpResponse<Path> response;
      try {
        response =
            http.send(
                request,
                HttpResponse.BodyHandlers.ofFile(
                    tmp,
                    java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      if (response.statusCode() != 200) {
        String body = Files.readString(tmp, StandardCharsets.UTF_8);
        throw new IOException(
            "the image download answered HTTP "
                + response.statusCode()
                + (body.isBlank() ? "" : ": " + abbreviate(body.strip(), 300)));
      }
      long size = Files.size(tmp);
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return size;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  static Update update(JsonNode node) {
    String status = node.path("status").asText("");
    JsonNode progress = node.has("progress") ? node.path("progress") : node;
    return new Update(
        status, progress.path("step").asInt(0), progress.path("steps").asInt(0), node);
  }

  private HttpResponse<byte[]> send(HttpRequest request) throws IOException {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } catch (java.net.ConnectException e) {
      throw new IOException("the gateway at " + base + " does not answer", e);
    }
  }

  private JsonNode json(HttpResponse<byte[]> response, String what) throws IOException {
    int status = response.statusCode();
    if (status / 100 != 2) {
      throw problem(status, response, response.body(), what);
    }
    try {
      return JSON.readTree(response.body());
    } catch (JsonProcessingException e) {
      throw new IOException(what + " answered " + status + " with something that is not JSON", e);
    }
  }

  /** An error answer as an exception: the problem's title, detail and field errors. */
  private static ApiException problem(
      int status, HttpResponse<?> response, byte[] body, String what) {
    String type = response.headers().firstValue("Content-Type").orElse("");
    JsonNode problem = null;
    if (type.contains("json")) {
      try {
        problem = JSON.readTree(body);
      } catch (IOException e) {
        // shown raw below
      }
    }
    StringBuilder m = new StringBuilder(what).append(" answered ").append(status);
    if (problem != null && problem.isObject()) {
      String title = problem.path("title").asText("");
      String detail = problem.path("detail").asText("");
      if (!title.isEmpty()) {
        m.append(" ").append(title);
      }
      if (!detail.isEmpty()) {
        m.append(": ").append(detail);
      }
      for (JsonNode e : problem.path("errors")) {
        m.append(System.lineSeparator())
            .append("  ")
            .append(e.path("field").asText())
            .append(": ")
            .append(e.path("message").asText());
      }
    } else {
      String text = new String(body, StandardCharsets.UTF_8).strip();
      if (!text.isEmpty()) {
        m.append(": ").append(abbreviate(text, 300));
      }
    }
    return new ApiException(status, problem, m.toString());
  }

  private static void checkDeadline(String id, Instant deadline) throws IOException {
    if (Instant.now().isAfter(deadline)) {
      throw new DeadlineException("gave up waiting for job " + id);
    }
  }

  /** The wait for a job passed its deadline. */
  static final class DeadlineException extends IOException {
    DeadlineException(String message) {
      super(message);
    }
  }

  static String abbreviate(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max) + "...";
  }

  private static void sleep(long millis) throws IOException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  @Override
  public void close() {
    http.close();
  }
}
