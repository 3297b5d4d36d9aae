package dev.fleet.launcher;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Asks a Quarkus application's {@code /q/health/ready} whether it is ready. */
final class HealthProbe {
  private final HttpClient http;
  private final Duration timeout;

  HealthProbe(Duration timeout) {
    this.timeout = timeout;
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(timeout)
            .version(HttpClient.Version.HTTP_1_1)
            .build();
  }

  /** True when {@code url} answers 200 within the timeout. */
  boolean ready(URI url) {
    return status(url) == 200;
  }

  /** The HTTP status of GET {@code url}, or -1 when nothing answers in time. */
  int status(URI url) {
    try {
      HttpRequest request = HttpRequest.newBuilder(url).timeout(timeout).GET().build();
      return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException | IllegalArgumentException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }
}
