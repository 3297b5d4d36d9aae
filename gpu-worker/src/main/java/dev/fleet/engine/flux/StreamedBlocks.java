package dev.fleet.engine.flux;

import dev.fleet.engine.memory.BudgetExceededException;
import dev.fleet.engine.memory.DeviceLedger;
import dev.fleet.engine.memory.HostToDevice;
import dev.fleet.engine.memory.LayerStream;
import dev.fleet.engine.memory.Widener;
import dev.fleet.engine.nn.BlockLease;
import dev.fleet.engine.nn.BlockStore;
import dev.fleet.engine.weights.Weights;
import java.util.ArrayList;
import java.util.List;

/**
 * The first K double and K' single blocks on the device, the rest in host memory, copied to the
 * device for their call and freed after it (through a {@link LayerStream}): the DiT of a memory
 * plan that does not fit whole. FLUX's block order and kinds over the shared {@link BlockStore},
 * which keeps every block in its storage form (float8 as bytes, widened on the device per call),
 * books every device allocation in the {@link DeviceLedger} and prefetches the next streamed block:
 * see there.
 */
public final class StreamedBlocks implements BlockSource {
  private final FluxParams params;
  private final BlockStore store;
  private final int residentDouble;
  private final int residentSingle;

  private StreamedBlocks(
      FluxParams params, BlockStore store, int residentDouble, int residentSingle) {
    this.params = params;
    this.store = store;
    this.residentDouble = residentDouble;
    this.residentSingle = residentSingle;
  }

  /**
   * Reads every block, moves the resident ones to the device (booking them) and keeps the others in
   * host memory.
   *
   * @param weights the whole checkpoint (unscoped); its store must outlive this source (on CPU the
   *     host copies may alias its memory-mapped bytes)
   * @param residentDouble how many of the first double blocks stay on the device (capped at depth)
   * @param residentSingle how many of the first single blocks stay on the device (capped at depth)
   * @throws BudgetExceededException when the resident blocks do not fit the ledger's budget
   */
  public static StreamedBlocks load(
      Weights weights,
      FluxParams params,
      int residentDouble,
      int residentSingle,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener) {
    return load(
        weights,
        params,
        residentDouble,
        residentSingle,
        ledger,
        hostToDevice,
        widener,
        BlockKernel.DJL);
  }

  /**
   * As {@link #load(Weights, FluxParams, int, int, DeviceLedger, HostToDevice, Widener)}, with
   * blocks handed out the way {@code kernel} takes them: when it {@linkplain
   * BlockKernel#takesStoredWeights() takes stored weights}, a lease passes float8 matrices that the
   * transfer keeps as real float8 tensors on as stored (with their value scales) and books only the
   * largest of them widened, since the kernel widens one matrix at a time.
   */
  public static StreamedBlocks load(
      Weights weights,
      FluxParams params,
      int residentDouble,
      int residentSingle,
      DeviceLedger ledger,
      HostToDevice hostToDevice,
      Widener widener,
      BlockKernel kernel) {
    if (residentDouble < 0 || residentSingle < 0) {
      throw new IllegalArgumentException(
          "resident block counts must be >= 0, got " + residentDouble + ", " + residentSingle);
    }
    int rd = Math.min(residentDouble, params.dims().depth());
    int rs = Math.min(residentSingle, params.dims().depthSingleBlocks());
    List<BlockStore.Slot> slots = new ArrayList<>();
    for (int i = 0; i < params.dims().depth(); i++) {
      slots.add(
          new BlockStore.Slot(
              "double_blocks." + i, i >= rd, (w, m) -> DoubleStreamBlock.load(w, params, m)));
    }
    for (int i = 0; i < params.dims().depthSingleBlocks(); i++) {
      slots.add(
          new BlockStore.Slot(
              "single_blocks." + i, i >= rs, (w, m) -> SingleStreamBlock.load(w, params, m)));
    }
    BlockStore store =
        BlockStore.load(
            weights,
            slots,
            ledger,
            hostToDevice,
            widener,
            kernel.takesStoredWeights(),
            BlockStore.Float8.AS_STORED);
    return new StreamedBlocks(params, store, rd, rs);
  }

  @Override
  public BlockLease<DoubleStreamBlock> doubleBlock(int index) {
    checkIndex(index, params.dims().depth(), "double");
    return store.lease(index, DoubleStreamBlock.class);
  }

  @Override
  public BlockLease<SingleStreamBlock> singleBlock(int index) {
    checkIndex(index, params.dims().depthSingleBlocks(), "single");
    return store.lease(params.dims().depth() + index, SingleStreamBlock.class);
  }

  private static void checkIndex(int index, int depth, String kind) {
    if (index < 0 || index >= depth) {
      throw new IndexOutOfBoundsException(kind + " block " + index + " of " + depth);
    }
  }

  /** Drops a prefetched copy that no lease will claim (e.g. after a failed forward pass). */
  public void cancelPrefetch() {
    store.cancelPrefetch();
  }

  /** Resident double blocks (the first ones). */
  public int residentDouble() {
    return residentDouble;
  }

  /** Resident single blocks (the first ones). */
  public int residentSingle() {
    return residentSingle;
  }

  /** Device bytes of the resident blocks in their storage form. */
  public long residentBytes() {
    return store.residentBytes();
  }

  /** Bytes copied host to device per forward pass: the streamed blocks' storage form. */
  public long streamedBytesPerPass() {
    return store.streamedBytesPerPass();
  }

  /** The largest streamed block's storage bytes (what a prefetch adds to the peak). */
  public long largestStreamedBlockBytes() {
    return store.largestStreamedBlockBytes();
  }

  /** Bytes copied host to device since loading. */
  public long bytesCopied() {
    return store.bytesCopied();
  }

  /** Prefetches skipped because the budget could not hold a second block. */
  public long prefetchesSkipped() {
    return store.prefetchesSkipped();
  }

  @Override
  public void close() {
    store.close();
  }
}
