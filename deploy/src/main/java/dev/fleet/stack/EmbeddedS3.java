package dev.fleet.stack;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;

/**
 * An S3-compatible server (S3Proxy) in this JVM that stores objects as plain files under a
 * directory, one sub-directory per bucket; object metadata such as the content type lives in the
 * files' extended attributes. Requests must be signed (AWS v2 or v4, presigned URLs included).
 */
public final class EmbeddedS3 implements AutoCloseable {
  public static final String DEFAULT_ACCESS_KEY = "fleet";
  public static final String DEFAULT_SECRET_KEY = "fleet-secret-key";
  public static final String DEFAULT_BUCKET = "fleet-images";

  private final S3Proxy proxy;
  private final BlobStore blobStore;
  private final int port;
  private boolean closed;

  private EmbeddedS3(S3Proxy proxy, BlobStore blobStore, int port) {
    this.proxy = proxy;
    this.blobStore = blobStore;
    this.port = port;
  }

  /**
   * Starts the server over {@code dir} and creates {@code bucket} there if it does not exist yet.
   *
   * @param port the HTTP port, 0 for a free one
   */
  public static EmbeddedS3 start(
      Path dir, int port, String accessKey, String secretKey, String bucket) throws IOException {
    Files.createDirectories(dir);
    int httpPort = Ports.resolveFree(port, "S3");
    BlobStore blobStore = new FilesystemNio2BlobStore(dir.toAbsolutePath().toString());
    if (!blobStore.containerExists(bucket)) {
      blobStore.createContainer(bucket);
    }
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(blobStore)
            .endpoint(URI.create("http://localhost:" + httpPort))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, accessKey, secretKey)
            // No graceful stop: Jetty would wait out the clients' idle keep-alive connections and
            // then fail the stop with a timeout. A local stack just closes them.
            .stopTimeout(0)
            .build();
    try {
      proxy.start();
    } catch (Exception e) {
      blobStore.close();
      throw new IOException("cannot start S3Proxy on port " + httpPort, e);
    }
    return new EmbeddedS3(proxy, blobStore, httpPort);
  }

  /** The service endpoint for path-style clients, {@code http://localhost:PORT}. */
  public String endpoint() {
    return "http://localhost:" + port;
  }

  public int port() {
    return port;
  }

  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      proxy.stop();
    } catch (Exception e) {
      throw new IOException("cannot stop S3Proxy", e);
    } finally {
      blobStore.close();
    }
  }
}
