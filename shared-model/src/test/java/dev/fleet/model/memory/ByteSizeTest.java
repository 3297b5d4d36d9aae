package dev.fleet.model.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
  @Test
  void binaryAndDecimalUnits() {
    assertEquals(8L << 30, ByteSize.parse("8GiB"));
    assertEquals(512L << 20, ByteSize.parse("512MiB"));
    assertEquals(12L << 30, ByteSize.parse("12G"));
    assertEquals(12L << 30, ByteSize.parse("12g"));
    assertEquals(25_000_000_000L, ByteSize.parse("25GB"));
    assertEquals(1536L << 20, ByteSize.parse("1.5GiB"));
    assertEquals(8589934592L, ByteSize.parse("8589934592"));
    assertEquals(100, ByteSize.parse("100B"));
    assertEquals(2L << 40, ByteSize.parse(" 2 TiB "));
  }

  @Test
  void ratesMayEndInPerSecond() {
    assertEquals(25e9, ByteSize.parseRate("25GB/s"));
    assertEquals(50.6e9, ByteSize.parseRate("50.6GB/s"), 1);
    assertEquals(8.0 * (1L << 30), ByteSize.parseRate("8GiB/s"));
    assertEquals(1e9, ByteSize.parseRate("1000000000"));
  }

  @Test
  void whatIsNotASizeIsRefused() {
    for (String bad : new String[] {"", "GiB", "8 apples", "-1", "8Gi", "8iB", "0.5", "1e9"}) {
      var e = assertThrows(IllegalArgumentException.class, () -> ByteSize.parse(bad), bad);
      assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("9000000TiB"));
    assertThrows(IllegalArgumentException.class, () -> ByteSize.parseRate("0GB/s"));
  }

  @Test
  void formats() {
    assertEquals("7.1 GiB", ByteSize.gib(7_623_000_000L));
    assertEquals("11.8 GB", ByteSize.gb(11_840_337_920L));
    assertEquals("8GiB", ByteSize.exact(8L << 30));
    assertEquals("512MiB", ByteSize.exact(512L << 20));
    assertEquals("1000", ByteSize.exact(1000));
  }

  @Test
  void storageTypes() {
    assertEquals(StorageType.FP8, StorageType.parse("fp8"));
    assertEquals(StorageType.FP16, StorageType.parse("FP16"));
    assertEquals(1, StorageType.FP8.bytes());
    assertEquals(2, StorageType.BF16.bytes());
    assertEquals(2, StorageType.COMPUTE.bytes());
    var e = assertThrows(IllegalArgumentException.class, () -> StorageType.parse("int4"));
    assertTrue(e.getMessage().contains("known: fp32, fp16, bf16, fp8"), e.getMessage());
  }
}
