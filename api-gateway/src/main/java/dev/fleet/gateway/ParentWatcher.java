package dev.fleet.gateway;

import dev.fleet.model.process.ParentWatch;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.util.Optional;

/**
 * With {@code -Dlauncher.parent-pid=PID} (the local launcher's), exits when that process is gone.
 */
@ApplicationScoped
public class ParentWatcher {
  void start(@Observes StartupEvent event) {
    // A plain system property, outside the fleet.* configuration (whose mappings refuse unknown
    // keys).
    Optional.ofNullable(Long.getLong(ParentWatch.PROPERTY))
        .ifPresent(
            pid ->
                ParentWatch.start(pid, ParentWatch.exit("fleet gateway", Duration.ofSeconds(15))));
  }
}
