package dev.fleet.gateway.bench;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * One keep-alive HTTP/1.1 connection for the load generators: writes a request, reads the status,
 * the headers it needs and the body (by Content-Length or chunked). Far less work per request than
 * a general client, which matters when the generator shares two cores with what it measures.
 */
final class KeepAliveConnection implements AutoCloseable {
  /** What came back: the status, the ETag if any, the body, and whether the server closes. */
  record Answer(int status, String etag, String body, boolean closed) {}

  private final String host;
  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  KeepAliveConnection(URI base) throws IOException {
    this.host = base.getHost() + ":" + base.getPort();
    this.socket = new Socket(base.getHost(), base.getPort());
    socket.setTcpNoDelay(true);
    socket.setSoTimeout(30_000);
    this.in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
    this.out = new BufferedOutputStream(socket.getOutputStream(), 16 * 1024);
  }

  /** A request's text, without the Host line (added per connection). */
  static String request(String method, String path, List<String> headers, String body) {
    StringBuilder r = new StringBuilder(256).append(method).append(' ').append(path);
    r.append(" HTTP/1.1\r\n");
    for (String h : headers) {
      r.append(h).append("\r\n");
    }
    if (body != null) {
      r.append("Content-Length: ")
          .append(body.getBytes(StandardCharsets.UTF_8).length)
          .append("\r\n\r\n")
          .append(body);
    } else {
      r.append("\r\n");
    }
    return r.toString();
  }

  Answer exchange(String request) throws IOException {
    int firstLine = request.indexOf("\r\n") + 2;
    out.write(request.substring(0, firstLine).getBytes(StandardCharsets.UTF_8));
    out.write(("Host: " + host + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(request.substring(firstLine).getBytes(StandardCharsets.UTF_8));
    out.flush();

    String status = line();
    int code = Integer.parseInt(status.substring(9, 12));
    long length = 0;
    boolean chunked = false;
    boolean closed = false;
    String etag = null;
    for (String h = line(); !h.isEmpty(); h = line()) {
      int colon = h.indexOf(':');
      String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = h.substring(colon + 1).trim();
      switch (name) {
        case "content-length" -> length = Long.parseLong(value);
        case "transfer-encoding" -> chunked = value.equalsIgnoreCase("chunked");
        case "connection" -> closed = value.equalsIgnoreCase("close");
        case "etag" -> etag = value;
        default -> {}
      }
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (chunked) {
      for (int size = Integer.parseInt(line().split(";")[0].trim(), 16);
          size > 0;
          size = Integer.parseInt(line().split(";")[0].trim(), 16)) {
        body.write(in.readNBytes(size));
        line();
      }
      line();
    } else if (code != 304 && code != 204) {
      byte[] bytes = in.readNBytes((int) length);
      if (bytes.length < length) {
        throw new EOFException("body cut short");
      }
      body.write(bytes);
    }
    return new Answer(code, etag, body.toString(StandardCharsets.UTF_8), closed);
  }

  private String line() throws IOException {
    StringBuilder s = new StringBuilder(64);
    for (int b = in.read(); b != '\n'; b = in.read()) {
      if (b < 0) {
        throw new EOFException("connection closed");
      }
      if (b != '\r') {
        s.append((char) b);
      }
    }
    return s.toString();
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
