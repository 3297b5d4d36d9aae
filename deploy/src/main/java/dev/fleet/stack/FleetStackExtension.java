package dev.fleet.stack;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives tests the JVM's shared local stack ({@link SharedStack}): the stack
 * starts before the first test class that uses it, is stopped when the whole test run ends (it
 * lives in the root context's store, which closes it), and test methods, constructors and lifecycle
 * methods can take a {@link StackEndpoints} parameter.
 *
 * <pre>{@code
 * @ExtendWith(FleetStackExtension.class)
 * class JobStoreTest {
 *   @Test
 *   void stores(StackEndpoints stack) { ... stack.jdbcUrl() ... }
 * }
 * }</pre>
 */
public final class FleetStackExtension implements BeforeAllCallback, ParameterResolver {
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(FleetStackExtension.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    endpoints(context);
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == StackEndpoints.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return endpoints(context);
  }

  /** The shared stack's endpoints, starting it (once per JVM) if needed. */
  public static StackEndpoints endpoints(ExtensionContext context) {
    return context
        .getRoot()
        .getStore(NAMESPACE)
        .computeIfAbsent(Lease.class, k -> new Lease(SharedStack.endpoints()), Lease.class)
        .endpoints();
  }

  /**
   * What the root store holds. JUnit closes AutoCloseable store values when their context ends, and
   * the root context ends with the test run: that is when the stack stops.
   */
  private record Lease(StackEndpoints endpoints) implements AutoCloseable {
    @Override
    public void close() {
      SharedStack.stop();
    }
  }
}
