package dev.fleet.gateway.api;

import dev.fleet.model.job.Job;
import dev.fleet.model.job.JobState;
import jakarta.ws.rs.core.CacheControl;
import jakarta.ws.rs.core.EntityTag;
import java.util.Optional;

/**
 * How a job's answer ({@code GET /v1/jobs/{id}}) may be cached and revalidated.
 *
 * <p>The ETag is the row's {@code version} (bumped by the database on every change) and, while the
 * job is queued, its queue position, which moves without the row changing: {@code "v7"} or {@code
 * "v0-q42"}. The answer is a function of those two, so a poller that sends {@code If-None-Match}
 * gets a bodiless 304 until something it would see has changed.
 *
 * <p>A succeeded job has no ETag: its answer carries a presigned result link signed on each
 * request, which an old copy would hold expired. Every answer is {@code private} (it belongs to one
 * tenant); {@code no-cache} makes a cache revalidate before each reuse, since the status moves at
 * any time; the answer with a link is {@code no-store}.
 */
final class JobCaching {
  private static final CacheControl REVALIDATE = cacheControl(false);
  private static final CacheControl NO_STORE = cacheControl(true);

  private JobCaching() {}

  /** The job's ETag, or empty for a succeeded job (see the class comment). */
  static Optional<EntityTag> etag(Job job, Long queuePosition) {
    if (job.state() == JobState.SUCCEEDED) {
      return Optional.empty();
    }
    String value =
        "v" + job.version() + (queuePosition == null ? "" : "-q" + queuePosition.longValue());
    return Optional.of(new EntityTag(value));
  }

  static CacheControl cacheControl(Job job) {
    return job.state() == JobState.SUCCEEDED ? NO_STORE : REVALIDATE;
  }

  private static CacheControl cacheControl(boolean noStore) {
    CacheControl cc = new CacheControl();
    cc.setPrivate(true);
    cc.setNoTransform(false);
    cc.setNoCache(!noStore);
    cc.setNoStore(noStore);
    return cc;
  }
}
