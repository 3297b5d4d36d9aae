package dev.fleet.engine.memory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.safetensors.DType;

/**
 * How streamed weights get from host memory to the compute device. The default copies synchronously
 * through DJL; a GPU implementation can keep the host copies in page-locked memory and copy without
 * blocking on a side stream (e.g. through a TorchScript helper), which is why a copy is begun and
 * awaited separately.
 */
public interface HostToDevice {

  /**
   * The host copy a tensor is kept as, made once at load (for resident blocks too, which are copied
   * to the device once, through {@link #begin}). The default keeps the array it is given (on CPU it
   * may alias the memory-mapped checkpoint); a GPU implementation returns a page-locked copy, and
   * may hold float8 as a real float8 tensor (opaque to DJL) as long as its {@link Widener} takes
   * what its {@link #begin} delivers.
   *
   * @param stored the tensor in its storage form: float8 as UINT8 bytes, anything else in the
   *     compute dtype, on a host manager
   * @param storage the checkpoint's dtype of the tensor
   * @param host the manager that must own the result
   */
  default NDArray keepOnHost(NDArray stored, DType storage, NDManager host) {
    return stored;
  }

  /**
   * Starts copying {@code host} arrays (as {@link #keepOnHost} made them) to {@code device}'s
   * device, in the same storage form: widening float8 is the {@link Widener}'s job.
   *
   * @param device receives the copies, in the order given
   */
  Transfer begin(NDList host, NDManager device);

  /** A copy under way. */
  interface Transfer {
    /** Blocks until the copies are usable on the device and returns them. */
    NDList await();
  }

  /**
   * A copy that is done when {@link #begin} returns. On the same device it still copies, so that a
   * streamed block's arrays are the lease's own and die with it.
   */
  static HostToDevice synchronous() {
    return (host, device) -> {
      NDList out = new NDList(host.size());
      for (NDArray a : host) {
        // The host array's manager is capped: the copy is made on a scratch manager, whose
        // closing hands the host array back.
        try (NDManager scratch = device.newSubManager()) {
          scratch.tempAttachAll(a);
          NDArray copy =
              a.getDevice().equals(device.getDevice())
                  ? a.duplicate()
                  : a.toDevice(device.getDevice(), true);
          copy.attach(device);
          out.add(copy);
        }
      }
      return () -> out;
    };
  }
}
