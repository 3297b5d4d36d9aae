package dev.fleet.stack;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A TCP port on the command line: 0 to 65535, 0 for any free one. */
public final class PortConverter implements ITypeConverter<Integer> {
  @Override
  public Integer convert(String value) {
    try {
      int port = Integer.parseInt(value);
      if (port >= 0 && port <= 65535) {
        return port;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new TypeConversionException("needs a port number (0 = any free port)");
  }
}
