"""A minimal JPEG Lossless encoder (ITU-T T.81 process 14, first-order prediction: selection
value 1, no point transform) for the transfer-syntax tests: no installed package encodes JPEG
Lossless (pylibjpeg-libjpeg and GDCM only decode it), and PACS archives send it often.

One Huffman table codes every difference category 0-16 in five bits (valid, if not optimal).
"""

from __future__ import annotations

import struct

import numpy as np

_CATEGORIES = 17  # SSSS 0..16, each coded in 5 bits: codes 0b00000 .. 0b10000 (canonical order)
_CODE_BITS = 5


class _Bits:
    """MSB-first bit writer with JPEG's byte stuffing (0x00 after every 0xFF)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.value = 0
        self.count = 0

    def put(self, value: int, bits: int) -> None:
        for shift in range(bits - 1, -1, -1):
            self.value = (self.value << 1) | ((value >> shift) & 1)
            self.count += 1
            if self.count == 8:
                self.out.append(self.value)
                if self.value == 0xFF:
                    self.out.append(0x00)
                self.value = self.count = 0

    def flush(self) -> bytes:
        if self.count:
            self.put((1 << (8 - self.count)) - 1, 8 - self.count)  # pad with ones
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def encode(image: np.ndarray, precision: int) -> bytes:
    """One JPEG Lossless (SV1) frame of a 2-D unsigned ``image`` of ``precision`` bits."""
    rows, cols = image.shape
    values = image.astype(np.int64)
    bits = _Bits()
    for y in range(rows):
        for x in range(cols):
            if x == 0 and y == 0:
                predicted = 1 << (precision - 1)
            elif y == 0 or x > 0:
                predicted = values[y, x - 1]
            else:
                predicted = values[y - 1, x]
            diff = int(values[y, x] - predicted) % 65536
            diff = diff - 65536 if diff > 32768 else diff
            category = abs(diff).bit_length()
            bits.put(category, _CODE_BITS)
            if 0 < category < 16:
                bits.put(diff if diff > 0 else diff + (1 << category) - 1, category)
    counts = bytes(_CODE_BITS - 1) + bytes([_CATEGORIES]) + bytes(16 - _CODE_BITS)
    return b"".join(
        [
            b"\xff\xd8",
            _segment(0xFFC4, b"\x00" + counts + bytes(range(_CATEGORIES))),
            _segment(0xFFC3, struct.pack(">BHHBBBB", precision, rows, cols, 1, 1, 0x11, 0)),
            _segment(0xFFDA, bytes([1, 1, 0x00, 1, 0, 0])),
            bits.flush(),
            b"\xff\xd9",
        ]
    )
