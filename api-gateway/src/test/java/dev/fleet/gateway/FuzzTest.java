package dev.fleet.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.model.job.Job;
import dev.fleet.model.store.JobStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The fuzz suite of issue 13: {@value #REQUESTS} requests generated from a seed ({@code
 * -Dfuzz.seed=N}, default {@value #DEFAULT_SEED}; request i is made from its own generator, so a
 * failure names the seed and index that replay it) against the test gateway: malformed JSON, wrong
 * types, huge numbers, odd unicode, header abuse, traversal and odd ids in paths, wrong methods,
 * random bytes, another tenant's ids. Every answer must be below 500; every 4xx one problem details
 * without a stack trace, class name or SQL; another tenant's job is never read; the gateway is
 * healthy after.
 *
 * <p>Kept cheap (10,000 requests in about 15 s on 2 cores, 4 client threads): most bodies are
 * refused by validation before any write; the test profile sets no rate or active-job limit for the
 * fuzzing tenant, so none dominates. One exception to "every 4xx is problem details": a request
 * line over the HTTP server's 4 KiB limit (the very long ids) is refused by Netty's codec (414, or
 * 431 for headers over 8 KiB, which are not sent) before any application code runs, with an empty
 * body: accepted, and counted under its status. Headers that java.net.http will not send (control
 * characters) are skipped (status 0; none with the default seed).
 *
 * <p>Found and fixed: a key id with NUL ({@code /v1/admin/keys/%00}) and a prompt with NUL reached
 * PostgreSQL and answered 503 (see {@link FuzzRegressionTest}).
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class FuzzTest {
  static final int REQUESTS = 10_000;
  static final long DEFAULT_SEED = 13L;
  private static final int THREADS = 4;

  /** What an error body must never show: stack frames, class names, SQL. */
  private static final Pattern LEAK =
      Pattern.compile(
          "Exception|\\bat dev\\.|\\bat org\\.|\\bat java\\.|java\\.|org\\.|dev\\.fleet|Caused by|"
              + "SELECT|INSERT INTO|UPDATE |\\bFROM |\\bWHERE |SQLState|PSQL|\\tat ");

  @Inject ApiKeyStore keys;
  @Inject JobStore store;
  @Inject ObjectMapper json;

  @TestHTTPResource("/")
  URI base;

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();

  /** What request i sends. */
  record Fuzz(String method, String path, List<String[]> headers, byte[] body, String kind) {}

  /** What came back for request i. */
  record Outcome(int index, Fuzz fuzz, int status, String contentType, String body) {}

  @Test
  void tenThousandGeneratedRequestsGetNo5xxAndNoLeaks() throws Exception {
    long seed = Long.getLong("fuzz.seed", DEFAULT_SEED);
    String suffix = Long.toHexString(seed);
    String ownKey = TestKeys.create(keys, "fuzz-" + suffix);
    String adminKey = keys.create("fuzz-admin-" + suffix, true, "fuzz").secret();
    String victimTenant =
        "fuzz-victim-" + suffix + "-" + UUID.randomUUID().toString().substring(0, 8);
    String victimKey = TestKeys.create(keys, victimTenant);
    String secret = "victim-secret-" + UUID.randomUUID();
    String victimJob = submit(victimKey, "{\"prompt\":\"" + secret + "\"}");
    Job victimStored = TestJobs.queued(store, victimTenant, 4);
    List<String> victimIds = List.of(victimJob, victimStored.id().toString());
    String ownJob = submit(ownKey, "{\"prompt\":\"own job\"}");
    Generator gen = new Generator(ownKey, adminKey, victimKey, victimIds, ownJob);

    long started = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<List<Outcome>>> parts = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int first = t;
      parts.add(
          pool.submit(
              () -> {
                List<Outcome> out = new ArrayList<>();
                for (int i = first; i < REQUESTS; i += THREADS) {
                  Fuzz f = gen.fuzz(new SplittableRandom(seed * 1_000_003L + i));
                  out.add(send(i, f));
                }
                return out;
              }));
    }
    List<Outcome> outcomes = new ArrayList<>();
    for (Future<List<Outcome>> p : parts) {
      outcomes.addAll(p.get());
    }
    pool.shutdown();
    long millis = (System.nanoTime() - started) / 1_000_000;

    Map<Integer, Integer> byStatus = new TreeMap<>();
    Map<String, Integer> byKind = new TreeMap<>();
    List<String> failures = new ArrayList<>();
    Map<String, Integer> failureKinds = new TreeMap<>();
    for (Outcome o : outcomes) {
      byStatus.merge(o.status(), 1, Integer::sum);
      byKind.merge(o.fuzz().kind(), 1, Integer::sum);
      int before = failures.size();
      check(o, secret, victimIds, seed, failures);
      if (failures.size() > before) {
        String f = failures.get(before);
        failureKinds.merge(
            f.substring(0, f.indexOf(':')) + " " + o.fuzz().kind() + " " + o.status(),
            1,
            Integer::sum);
      }
    }
    outcomes.sort((a, b) -> Integer.compare(a.index(), b.index()));
    int fives = (int) outcomes.stream().filter(o -> o.status() >= 500).count();
    System.out.printf(
        "fuzz: %d requests, by status: %s, 5xx %d (seed %d, %d ms; kinds %s)%n",
        outcomes.size(), byStatus, fives, seed, millis, byKind);
    assertEquals(REQUESTS, outcomes.size());
    assertTrue(
        failures.isEmpty(),
        failures.size()
            + " failures "
            + failureKinds
            + ", first: "
            + String.join("\n", failures.subList(0, Math.min(15, failures.size()))));

    // Healthy after: ready, and a normal submission and read still work.
    HttpResponse<String> ready = get("/q/health/ready", null);
    assertEquals(200, ready.statusCode(), ready.body());
    assertTrue(ready.body().contains("\"UP\""), ready.body());
    String id = submit(ownKey, "{\"prompt\":\"after the fuzz\"}");
    HttpResponse<String> read = get("/v1/jobs/" + id, ownKey);
    assertEquals(200, read.statusCode(), read.body());
    assertTrue(read.body().contains("after the fuzz"), read.body());
    // The victim's jobs are untouched and still theirs.
    for (String v : victimIds) {
      assertEquals(404, get("/v1/jobs/" + v, ownKey).statusCode());
      assertEquals(200, get("/v1/jobs/" + v, victimKey).statusCode());
    }
  }

  private void check(
      Outcome o, String secret, List<String> victimIds, long seed, List<String> failures) {
    String where =
        "#"
            + o.index()
            + " (seed "
            + seed
            + ") "
            + o.fuzz().kind()
            + " "
            + o.fuzz().method()
            + " "
            + abbreviate(o.fuzz().path())
            + " -> "
            + o.status()
            + " "
            + o.contentType()
            + " "
            + abbreviate(o.body());
    if (o.status() == 0) {
      return; // a header java.net.http will not send
    }
    if ((o.status() == 414 || o.status() == 431) && o.body().isEmpty()) {
      return; // the HTTP codec's own refusal of a request line or headers over its limits
    }
    if (o.status() >= 500 || o.status() < 100) {
      failures.add("5xx/no answer: " + where);
      return;
    }
    if (o.body().contains(secret)) {
      failures.add("another tenant's prompt in the answer: " + where);
    }
    boolean victimPath = victimIds.stream().anyMatch(v -> o.fuzz().path().contains(v));
    if (victimPath && o.fuzz().kind().startsWith("other-tenant") && o.status() < 400) {
      failures.add("another tenant's job answered: " + where);
    }
    if (o.status() >= 400) {
      if (LEAK.matcher(o.body()).find()) {
        failures.add("leak: " + where);
      }
      if (o.fuzz().method().equals("HEAD")) {
        return; // no body to a HEAD
      }
      if (o.contentType() == null || !o.contentType().startsWith("application/problem+json")) {
        failures.add("not problem+json: " + where);
        return;
      }
      try {
        JsonNode p = json.readTree(o.body());
        if (p.path("status").asInt() != o.status() || !p.hasNonNull("title")) {
          failures.add("problem without its status/title: " + where);
        }
      } catch (Exception e) {
        failures.add("problem body not JSON: " + where);
      }
    }
  }

  private static String abbreviate(String s) {
    if (s == null) {
      return "null";
    }
    String t = s.length() > 200 ? s.substring(0, 200) + "..." : s;
    return t.replace("\n", "\\n");
  }

  private Outcome send(int index, Fuzz f) {
    try {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(base.toString().replaceAll("/$", "") + f.path()))
              .timeout(Duration.ofSeconds(20));
      try {
        for (String[] h : f.headers()) {
          b.header(h[0], h[1]);
        }
      } catch (IllegalArgumentException e) {
        return new Outcome(index, f, 0, null, "refused by the client: " + e.getMessage());
      }
      HttpRequest.BodyPublisher body =
          f.body() == null
              ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofByteArray(f.body());
      b.method(f.method(), body);
      HttpRequest request;
      try {
        request = b.build();
      } catch (IllegalArgumentException e) {
        return new Outcome(index, f, 0, null, "refused by the client: " + e.getMessage());
      }
      HttpResponse<byte[]> r;
      try {
        r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
      } catch (java.io.IOException e) {
        // A kept-alive connection the server had closed (after refusing a body unread): the
        // request never reached it; once more on a new connection.
        r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
      }
      return new Outcome(
          index,
          f,
          r.statusCode(),
          r.headers().firstValue("Content-Type").orElse(null),
          new String(r.body(), StandardCharsets.UTF_8));
    } catch (Exception e) {
      return new Outcome(index, f, -1, null, "no answer: " + e);
    }
  }

  private HttpResponse<String> get(String path, String key) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base.toString().replaceAll("/$", "") + path)).GET();
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private String submit(String key, String body) throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create(base.toString().replaceAll("/$", "") + "/v1/jobs"))
            .header("Authorization", "Bearer " + key)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
    HttpResponse<String> resp = http.send(r, HttpResponse.BodyHandlers.ofString());
    assertEquals(202, resp.statusCode(), resp.body());
    return json.readTree(resp.body()).path("id").asText();
  }

  /** Makes request i from its own random source: deterministic from the seed. */
  static final class Generator {
    private static final String[] FIELDS = {
      "prompt", "seed", "steps", "width", "height", "guidance", "model", "loras"
    };
    private static final String[] ODD_VALUES = {
      "true",
      "false",
      "null",
      "\"4\"",
      "[]",
      "{}",
      "1.5",
      "-1",
      "0",
      "-0",
      "1e308",
      "1e400",
      "-1e400",
      "1e-400",
      "99999999999999999999999999999999",
      "-9223372036854775809",
      "9223372036854775808",
      "2147483648",
      "4294967296",
      "NaN",
      "Infinity",
      "-Infinity",
      "\"NaN\"",
      "\"\"",
      "\"\\u0000\"",
      "\"\\ud800\"",
      "\"\\udc00\\ud800\"",
      "[1,2,3]",
      "{\"name\":null}",
      "[{\"name\":\"../../etc/passwd\",\"strength\":1e999}]",
      "[{\"name\":\"\\u0000\"}]",
      "[{\"name\":\"x\",\"strength\":\"1\"}]",
      "[null]",
      "\"flux-tiny\"",
      "\"../../../etc/passwd\"",
      "\"%2e%2e/%2e%2e\"",
      "\"" + "9".repeat(1500) + "\"",
      "1" + "0".repeat(1200),
      "0." + "1".repeat(1200),
      "0x10",
      "01",
      "+1",
      ".5",
      "1.",
      "'single'",
      "undefined",
    };
    private static final String[] ODD_TEXT = {
      "\u202Eevil\u202C",
      "\u200B\u200C\u200D\uFEFF",
      "\uD83E\uDD8A\uD83D\uDC69\u200D\uD83D\uDC69\u200D\uD83D\uDC67",
      "\u0000",
      "\uD800",
      "\uDFFF\uD800",
      "\uFFFF\uFFFE",
      "\u0085\u2028\u2029",
      "a\u0301\u0301\u0301",
      "\u05E9\u05DC\u05D5\u05DD",
      "\u0627\u0644\u0633\u0644\u0627\u0645",
      "\t\r\n",
      "\\",
      "\"",
      "'; DROP TABLE jobs; --",
      "${jndi:ldap://x/a}",
      "%s%n%x",
      "<script>alert(1)</script>",
      "\uD83D\uDE00".repeat(500),
    };
    private static final String[] ODD_IDS = {
      "..",
      "%2e%2e",
      "%2E%2E%2F%2E%2E",
      "..%2f..%2fetc%2fpasswd",
      "%252e%252e",
      ".",
      "%00",
      "%ff%fe",
      "%e2%80%ae",
      "%f0%9f%a6%8a",
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      "not-a-uuid",
      "1",
      "-1",
      "null",
      "%20",
      "+",
      "%3b",
      "a;b=c",
      "%22%27%3c%3e",
      "0-0-0-0-0",
      "1-1-1-1-1",
      "12345678-1234-1234-1234-1234567890123",
      "g0000000-0000-0000-0000-000000000000",
      "00000000000000000000000000000000",
      "%7B00000000-0000-0000-0000-000000000000%7D",
      "urn:uuid:00000000-0000-0000-0000-000000000000",
    };
    private static final String[] CONTENT_TYPES = {
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=utf-16",
      "application/json; charset=bogus-charset",
      "application/json; charset=",
      "application/json;;;",
      "text/plain",
      "text/html",
      "application/xml",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=",
      "multipart/form-data",
      "application/octet-stream",
      "*/*",
      "application/*",
      "",
      "json",
      "application/problem+json",
      "application/json\u00e9",
      "application/vnd.fleet+json",
    };
    private static final String[] ACCEPTS = {
      "application/json",
      "*/*",
      "text/html",
      "application/xml",
      "image/png",
      "text/event-stream",
      "application/problem+json",
      "garbage",
      "",
      "*/*;q=abc",
      "application/json;q=0",
    };
    private static final String[] METHODS = {
      "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "FOO", "PROPFIND"
    };

    private final String ownKey;
    private final String adminKey;
    private final String victimKey;
    private final List<String> victimIds;
    private final String ownJob;

    Generator(
        String ownKey, String adminKey, String victimKey, List<String> victimIds, String ownJob) {
      this.ownKey = ownKey;
      this.adminKey = adminKey;
      this.victimKey = victimKey;
      this.victimIds = victimIds;
      this.ownJob = ownJob;
    }

    Fuzz fuzz(SplittableRandom r) {
      int pick = r.nextInt(100);
      if (pick < 40) {
        return body(r);
      } else if (pick < 52) {
        return headers(r);
      } else if (pick < 67) {
        return paths(r);
      } else if (pick < 75) {
        return methods(r);
      } else if (pick < 82) {
        return randomBytes(r);
      } else if (pick < 90) {
        return otherTenant(r);
      } else if (pick < 95) {
        return query(r);
      } else {
        return admin(r);
      }
    }

    private List<String[]> auth(String key) {
      List<String[]> h = new ArrayList<>();
      h.add(new String[] {"Authorization", "Bearer " + key});
      return h;
    }

    /** A submission whose JSON is broken, mistyped, huge or odd. */
    private Fuzz body(SplittableRandom r) {
      List<String[]> h = auth(ownKey);
      h.add(new String[] {"Content-Type", "application/json"});
      String valid = validBody(r);
      String body;
      String kind;
      switch (r.nextInt(7)) {
        case 0 -> {
          kind = "body-truncated";
          body = valid.substring(0, r.nextInt(valid.length()));
        }
        case 1 -> {
          kind = "body-mutated";
          StringBuilder b = new StringBuilder(valid);
          int n = 1 + r.nextInt(4);
          for (int i = 0; i < n; i++) {
            int at = r.nextInt(b.length() + 1);
            String chars = "{}[]\",:\\ 0-e.";
            String ins = chars.charAt(r.nextInt(chars.length())) + "";
            if (r.nextBoolean() && at < b.length()) {
              b.setCharAt(at, ins.charAt(0));
            } else {
              b.insert(at, ins);
            }
          }
          body = b.toString();
        }
        case 2 -> {
          kind = "body-wrong-type";
          String f = FIELDS[r.nextInt(FIELDS.length)];
          String v = ODD_VALUES[r.nextInt(ODD_VALUES.length)];
          body =
              f.equals("prompt")
                  ? "{\"prompt\":" + v + "}"
                  : "{\"prompt\":\"fuzz\",\"" + f + "\":" + v + "}";
        }
        case 3 -> {
          kind = "body-unicode";
          String t = ODD_TEXT[r.nextInt(ODD_TEXT.length)];
          String where = r.nextBoolean() ? "prompt" : FIELDS[r.nextInt(FIELDS.length)];
          String quoted = r.nextBoolean() ? jsonEscape(t) : rawQuote(t);
          body =
              r.nextInt(4) == 0
                  ? "{\"prompt\":\"x\"," + quoted + ":1}" // an odd field name
                  : "{\"" + where + "\":" + quoted + "}";
        }
        case 4 -> {
          kind = "body-structure";
          body =
              switch (r.nextInt(10)) {
                case 0 -> "[".repeat(2000 + r.nextInt(3000));
                case 1 -> "{\"prompt\":" + "[".repeat(1500) + "]".repeat(1500) + "}";
                case 2 -> "{\"prompt\":\"a\",\"prompt\":\"b\"}";
                case 3 -> "[" + valid + "]";
                case 4 -> "\"just a string\"";
                case 5 -> "null";
                case 6 -> valid + valid;
                case 7 -> "{\"prompt\":\"a\"" + ",\"x\":1".repeat(2000) + "}";
                case 8 -> "{\"" + "k".repeat(5000) + "\":1}";
                default -> "{\"prompt\":\"a\",\"loras\":" + "[{}]".repeat(1) + "}";
              };
        }
        case 5 -> {
          kind = "body-huge";
          String f = FIELDS[1 + r.nextInt(5)];
          String v =
              switch (r.nextInt(5)) {
                case 0 -> Long.toString(r.nextLong());
                case 1 -> "1" + "0".repeat(20 + r.nextInt(1200));
                case 2 -> "-" + "9".repeat(20 + r.nextInt(200));
                case 3 -> "1e" + (r.nextBoolean() ? "" : "-") + r.nextInt(100_000);
                default -> Double.toString(r.nextDouble() * Double.MAX_VALUE);
              };
          body = "{\"prompt\":\"huge\",\"" + f + "\":" + v + "}";
        }
        default -> {
          kind = "body-valid-ish";
          body = valid;
        }
      }
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      return new Fuzz("POST", "/v1/jobs", h, bytes, kind);
    }

    /** Mostly refused: a valid body only where every field happens to be in range. */
    private String validBody(SplittableRandom r) {
      StringBuilder b =
          new StringBuilder("{\"prompt\":\"fuzz ").append(r.nextInt(1000)).append('"');
      if (r.nextBoolean()) {
        b.append(",\"steps\":").append(r.nextInt(-5, 80));
      }
      if (r.nextBoolean()) {
        b.append(",\"width\":").append(r.nextInt(-32, 5000));
      }
      if (r.nextBoolean()) {
        b.append(",\"height\":").append(16 * r.nextInt(-2, 100));
      }
      if (r.nextBoolean()) {
        b.append(",\"guidance\":").append(r.nextDouble() * 40 - 5);
      }
      if (r.nextBoolean()) {
        b.append(",\"seed\":").append(r.nextLong(-5, 1L << 33));
      }
      if (r.nextInt(4) == 0) {
        b.append(",\"model\":\"").append(r.nextBoolean() ? "flux-tiny" : "nope").append('"');
      }
      if (r.nextInt(5) == 0) {
        b.append(",\"loras\":[{\"name\":\"missing\",\"strength\":").append(r.nextInt(-5, 5));
        b.append("}]");
      }
      return b.append('}').toString();
    }

    private static String jsonEscape(String s) {
      StringBuilder b = new StringBuilder("\"");
      for (char c : s.toCharArray()) {
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
          b.append(String.format("\\u%04x", (int) c));
        } else {
          b.append(c);
        }
      }
      return b.append('"').toString();
    }

    /** Unescaped: control characters and lone surrogates as they are (broken JSON or UTF-8). */
    private static String rawQuote(String s) {
      return "\"" + s + "\"";
    }

    /** Content types, Accept, huge and duplicate headers, bad bearer formats. */
    private Fuzz headers(SplittableRandom r) {
      List<String[]> h = new ArrayList<>();
      String kind;
      switch (r.nextInt(6)) {
        case 0 -> {
          kind = "header-content-type";
          h.addAll(auth(ownKey));
          h.add(new String[] {"Content-Type", CONTENT_TYPES[r.nextInt(CONTENT_TYPES.length)]});
        }
        case 1 -> {
          kind = "header-accept";
          h.addAll(auth(ownKey));
          h.add(new String[] {"Content-Type", "application/json"});
          h.add(new String[] {"Accept", ACCEPTS[r.nextInt(ACCEPTS.length)]});
        }
        case 2 -> {
          kind = "header-bearer";
          String[] forms = {
            "Bearer",
            "Bearer ",
            "Bearer  " + ownKey,
            "bearer " + ownKey,
            "BEARER " + ownKey,
            "Bearer " + ownKey + "x",
            "Bearer " + ownKey.substring(0, ownKey.length() - 1),
            "Bearer " + ownKey + " " + ownKey,
            "Bearer fk_",
            "Bearer fk__",
            "Bearer fk_" + "a".repeat(3000) + "_b",
            "Bearer fk_abc_" + "z".repeat(4000),
            "Bearer %00",
            "Bearer ' OR '1'='1",
            "Basic dXNlcjpwYXNz",
            "Digest username=x",
            "Token " + ownKey,
            ownKey,
            "Bearer\t" + ownKey,
            "Bearer " + "\u00e9\u00e8",
            "Bearer ..",
            "Negotiate",
          };
          h.add(new String[] {"Authorization", forms[r.nextInt(forms.length)]});
          h.add(new String[] {"Content-Type", "application/json"});
        }
        case 3 -> {
          kind = "header-duplicate-auth";
          h.add(new String[] {"Authorization", "Bearer " + ownKey});
          h.add(
              new String[] {
                "Authorization", r.nextBoolean() ? "Bearer " + victimKey : "Bearer nonsense"
              });
          h.add(new String[] {"Content-Type", "application/json"});
        }
        case 4 -> {
          kind = "header-huge";
          h.addAll(auth(ownKey));
          h.add(new String[] {"Content-Type", "application/json"});
          // Under the HTTP server's 8 KiB header limit: the application sees them.
          h.add(new String[] {"X-Fuzz", "x".repeat(1000 + r.nextInt(5000))});
          if (r.nextBoolean()) {
            h.add(new String[] {"Idempotency-Key", "k".repeat(200 + r.nextInt(500))});
          }
        }
        default -> {
          kind = "header-idempotency";
          h.addAll(auth(ownKey));
          h.add(new String[] {"Content-Type", "application/json"});
          String[] keysForms = {"", " ", "\u00e9", "a".repeat(256), "'; --", "%00", "..", "\t"};
          h.add(new String[] {"Idempotency-Key", keysForms[r.nextInt(keysForms.length)]});
        }
      }
      boolean post = r.nextInt(3) > 0;
      String path = post ? "/v1/jobs" : pick(r, "/v1/jobs", "/v1/models", "/v1/loras");
      byte[] body =
          post
              ? (r.nextBoolean()
                      ? "{\"prompt\":" + r.nextInt() + "}"
                      : "{\"prompt\":\"h\",\"steps\":-1}")
                  .getBytes(StandardCharsets.UTF_8)
              : null;
      return new Fuzz(post ? "POST" : "GET", path, h, body, kind);
    }

    /** Odd, traversing, encoded and very long ids under every job path. */
    private Fuzz paths(SplittableRandom r) {
      String id =
          switch (r.nextInt(5)) {
            case 0, 1 -> ODD_IDS[r.nextInt(ODD_IDS.length)];
            case 2 -> randomId(r, 1 + r.nextInt(40));
            case 3 -> randomId(r, 1000 + r.nextInt(5000));
            default -> UUID.randomUUID().toString().replace('-', r.nextBoolean() ? '-' : '_');
          };
      String tail = pick(r, "", "", "/events", "/image", "/image?redirect=false", "/", "/x", "/..");
      String method = pick(r, "GET", "GET", "DELETE", "POST");
      String path = "/v1/jobs/" + id + tail;
      if (r.nextInt(6) == 0) {
        path =
            pick(r, "/v1/", "/v1/../v1/jobs", "/v1/jobs/../../q/health", "/v1//jobs", "/v1/jobs/")
                + pick(r, "", id);
      }
      return new Fuzz(
          method,
          path,
          auth(ownKey),
          method.equals("POST") ? "{}".getBytes(StandardCharsets.UTF_8) : null,
          "path-odd-id");
    }

    private static String randomId(SplittableRandom r, int length) {
      String alphabet = "abcdef0123456789-_~";
      StringBuilder b = new StringBuilder(length);
      for (int i = 0; i < length; i++) {
        b.append(alphabet.charAt(r.nextInt(alphabet.length())));
      }
      return b.toString();
    }

    /** Methods the resources do not serve. */
    private Fuzz methods(SplittableRandom r) {
      String method = METHODS[r.nextInt(METHODS.length)];
      String path =
          pick(
              r,
              "/v1/jobs",
              "/v1/jobs/" + ownJob,
              "/v1/jobs/" + ownJob + "/image",
              "/v1/models",
              "/v1/loras",
              "/v1/admin/keys",
              "/v1/jobs/" + UUID.randomUUID());
      if (method.equals("GET") && path.equals("/v1/jobs/" + ownJob)) {
        method = "PUT";
      }
      if (method.equals("DELETE") && path.equals("/v1/jobs/" + ownJob)) {
        method = "PATCH"; // keep the own job for other requests
      }
      List<String[]> h = auth(r.nextInt(4) == 0 ? adminKey : ownKey);
      h.add(new String[] {"Content-Type", "application/json"});
      boolean withBody = !method.equals("GET") && !method.equals("HEAD") && r.nextBoolean();
      return new Fuzz(
          method,
          path,
          h,
          withBody ? "{\"prompt\":\"m\",\"steps\":0}".getBytes(StandardCharsets.UTF_8) : null,
          "method");
    }

    /** Random bytes as bodies, under random content types. */
    private Fuzz randomBytes(SplittableRandom r) {
      byte[] bytes = new byte[r.nextInt(1, 4096)];
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] = (byte) r.nextInt(256);
      }
      if (r.nextBoolean()) {
        bytes[0] = '{'; // past the first character at least
      }
      List<String[]> h = auth(r.nextInt(5) == 0 ? adminKey : ownKey);
      h.add(
          new String[] {
            "Content-Type",
            r.nextInt(3) == 0 ? CONTENT_TYPES[r.nextInt(CONTENT_TYPES.length)] : "application/json"
          });
      String path = r.nextInt(5) == 0 ? "/v1/admin/keys" : "/v1/jobs";
      return new Fuzz("POST", path, h, bytes, "random-bytes");
    }

    /** Another tenant's ids, every way: must be 404, never its job. */
    private Fuzz otherTenant(SplittableRandom r) {
      String id = victimIds.get(r.nextInt(victimIds.size()));
      String variant =
          switch (r.nextInt(6)) {
            case 0 -> id.toUpperCase();
            case 1 -> "%7B" + id + "%7D";
            case 2 -> id + "%00";
            case 3 -> id + "/";
            default -> id;
          };
      String tail = pick(r, "", "", "/events", "/image", "/image?redirect=false");
      String method = tail.isEmpty() ? pick(r, "GET", "GET", "DELETE") : "GET";
      List<String[]> h = auth(ownKey);
      if (r.nextInt(8) == 0) {
        h.add(new String[] {"X-Tenant", "fuzz-victim"});
      }
      return new Fuzz(method, "/v1/jobs/" + variant + tail, h, null, "other-tenant");
    }

    /** Odd query parameters: status, limit, cursor, redirect, tenant. */
    private Fuzz query(SplittableRandom r) {
      String[] values = {
        "",
        "%00",
        "-1",
        "0",
        "201",
        "99999999999999999999",
        "1e3",
        "abc",
        "%e2%80%ae",
        "%f0%9f%98%80",
        "QUEUED,,,",
        "queued",
        "..%2f..",
        "%27%20OR%201%3D1",
        "x".repeat(3000),
        "%ff",
        "eyJ0IjoiMjAyNi0wMS0wMSIsImlkIjoxfQ",
        "AAAA",
        "!!!!",
        "true",
        "TRUE",
        "no"
      };
      String v = values[r.nextInt(values.length)];
      String path =
          switch (r.nextInt(4)) {
            case 0 -> "/v1/jobs?status=" + v;
            case 1 -> "/v1/jobs?limit=" + v;
            case 2 -> "/v1/jobs?cursor=" + v + (r.nextBoolean() ? "&limit=1" : "");
            default -> "/v1/jobs/" + ownJob + "/image?redirect=" + v;
          };
      return new Fuzz("GET", path, auth(ownKey), null, "query");
    }

    /** The admin API: a user key (403), an admin key with odd ids, tenants and bodies. */
    private Fuzz admin(SplittableRandom r) {
      boolean asAdmin = r.nextInt(3) > 0;
      List<String[]> h = auth(asAdmin ? adminKey : ownKey);
      h.add(new String[] {"Content-Type", "application/json"});
      String[] odd = {
        "%00", "..", "%2e%2e", "x".repeat(2000), "fk_", "%e2%80%ae", "'", "nope", "a%00b"
      };
      return switch (r.nextInt(4)) {
        case 0 -> new Fuzz("GET", "/v1/admin/keys/" + odd[r.nextInt(odd.length)], h, null, "admin");
        case 1 ->
            new Fuzz("DELETE", "/v1/admin/keys/" + odd[r.nextInt(odd.length)], h, null, "admin");
        case 2 ->
            new Fuzz(
                "GET", "/v1/admin/keys?tenant=" + odd[r.nextInt(odd.length)], h, null, "admin");
        default -> {
          String[] bodies = {
            "{\"tenant\":\"\\u0000\"}",
            "{\"tenant\":\"ok-tenant\",\"name\":\"\\u0000\"}",
            "{\"tenant\":\"ok-tenant\",\"name\":\"\\ud800\"}",
            "{\"tenant\":\"ok-tenant\",\"admin\":\"yes\"}",
            "{\"tenant\":1}",
            "{\"tenant\":\"" + "t".repeat(64) + "\"}",
            "{\"tenant\":\"../x\"}",
            "{\"tenant\":\"a\",\"name\":\"" + "n".repeat(5000) + "\"}",
            "{\"tenant\":null}",
            "[]",
            "{",
            "{\"tenant\":\"a\",\"extra\":true}",
          };
          yield new Fuzz(
              "POST",
              "/v1/admin/keys",
              h,
              bodies[r.nextInt(bodies.length)].getBytes(StandardCharsets.UTF_8),
              "admin");
        }
      };
    }

    private static String pick(SplittableRandom r, String... options) {
      return options[r.nextInt(options.length)];
    }
  }
}
