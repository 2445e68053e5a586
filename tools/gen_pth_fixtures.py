#!/usr/bin/env python3
"""Writes the small torch.save-format fixtures under tests/fixtures/pth/ (read by tests/checkpoint_io.rs).

torch is not needed: the pickles are written by Python's own pickler with the same persistent_id hook and
the same reduce tuples that torch.save uses (`torch._utils._rebuild_tensor_v2`, `('storage', torch.XStorage,
key, location, numel)` persistent ids, `collections.OrderedDict` state dicts), into a zip of stored entries
`<archive>/data.pkl`, `<archive>/byteorder`, `<archive>/data/<key>`. Only fake `torch` modules are registered
so the pickler can name the globals. Run from the repository root: python3 tools/gen_pth_fixtures.py
"""

import collections
import os
import pickle
import struct
import sys
import types
import zipfile

OUT = os.path.join("tests", "fixtures", "pth")

# Fake torch modules, only so that pickle can write GLOBAL 'torch._utils _rebuild_tensor_v2' etc.
torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils
torch._utils = utils


def _fn(name):
    def f(*args):
        raise RuntimeError("never called")

    f.__name__ = f.__qualname__ = name
    f.__module__ = "torch._utils"
    setattr(utils, name, f)
    return f


rebuild_tensor_v2 = _fn("_rebuild_tensor_v2")
rebuild_parameter = _fn("_rebuild_parameter")


def _storage_class(name):
    cls = type(name, (), {})
    cls.__module__ = "torch"
    setattr(torch, name, cls)
    return cls


class Storage:
    def __init__(self, cls, key, fmt, values):
        self.cls, self.key, self.numel = cls, key, len(values)
        self.data = b"".join(struct.pack("<" + fmt, v) for v in values)


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce_ex__(self, proto):
        return (rebuild_tensor_v2, self.args)


class Parameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce_ex__(self, proto):
        return (rebuild_parameter, (self.tensor, True, collections.OrderedDict()))


class Py2OrderedDict:
    """Pickles like Python 2's OrderedDict: OrderedDict([[k, v], ...]) as REDUCE arguments."""

    def __init__(self, items):
        self.items = items

    def __reduce_ex__(self, proto):
        return (collections.OrderedDict, ([[k, v] for k, v in self.items],))


class Pickler(pickle.Pickler):
    def __init__(self, f, protocol):
        super().__init__(f, protocol)
        self.storages = {}

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            self.storages[obj.key] = obj
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def save(name, obj, protocol=2, byteorder=b"little"):
    import io

    buf = io.BytesIO()
    p = Pickler(buf, protocol)
    p.dump(obj)
    path = os.path.join(OUT, name + ".pth")
    entries = [(f"{name}/data.pkl", buf.getvalue()), (f"{name}/byteorder", byteorder)]
    entries += [(f"{name}/data/{key}", s.data) for key, s in p.storages.items()]
    entries.append((f"{name}/version", b"3\n"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for entry, data in entries:
            # A fixed timestamp keeps the fixtures byte-for-byte reproducible.
            z.writestr(zipfile.ZipInfo(entry, date_time=(2024, 1, 1, 0, 0, 0)), data)
    print(path, os.path.getsize(path))


def views_dict():
    F, L, I, S, C, B, Bo, H, BF, D = (
        _storage_class(n)
        for n in [
            "FloatStorage", "LongStorage", "IntStorage", "ShortStorage", "CharStorage",
            "ByteStorage", "BoolStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
        ]
    )
    base = Storage(F, "0", "f", [float(i) for i in range(12)])  # 0..11 as a 3x4 matrix
    sd = collections.OrderedDict()
    sd["base"] = Tensor(base, 0, (3, 4), (4, 1))
    sd["t"] = Tensor(base, 0, (4, 3), (1, 4))  # base.t()
    sd["row1"] = Tensor(base, 4, (4,), (1,))  # base[1]
    sd["col2"] = Tensor(base, 2, (3,), (4,))  # base[:, 2]
    sd["expanded"] = Tensor(base, 0, (2, 3), (0, 1))  # base[0, :3].expand(2, 3)
    sd["scalar"] = Tensor(base, 5, (), ())  # base[1, 1]
    sd["empty"] = Tensor(base, 0, (0, 4), (4, 1))
    sd["sub"] = Tensor(base, 5, (2, 2), (4, 1))  # base[1:3, 1:3]
    sd["param"] = Parameter(Tensor(Storage(F, "1", "f", [1.5, -2.5]), 0, (2,), (1,)))
    sd["i64"] = Tensor(Storage(L, "2", "q", [-(2**40), 7]), 0, (2,), (1,))
    sd["i32"] = Tensor(Storage(I, "3", "i", [-5, 1 << 30]), 0, (2,), (1,))
    sd["i16"] = Tensor(Storage(S, "4", "h", [-300, 300]), 0, (2,), (1,))
    sd["i8"] = Tensor(Storage(C, "5", "b", [-128, 127, -1]), 0, (3,), (1,))
    sd["u8"] = Tensor(Storage(B, "6", "B", [0, 200, 255]), 0, (3,), (1,))
    sd["bool"] = Tensor(Storage(Bo, "7", "?", [True, False, True]), 0, (3,), (1,))
    sd["f16"] = Tensor(Storage(H, "8", "e", [0.5, -2.0]), 0, (2,), (1,))
    sd["bf16"] = Tensor(Storage(BF, "9", "H", [0x3FC0, 0xC000]), 0, (2,), (1,))  # 1.5, -2.0
    sd["f64"] = Tensor(Storage(D, "10", "d", [0.1, -1e300]), 0, (2,), (1,))
    return sd


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = views_dict()
    save("views_p2", sd, protocol=2)
    save("views_p4", sd, protocol=4)  # STACK_GLOBAL, MEMOIZE, FRAME, SHORT_BINUNICODE
    save("views_p5", sd, protocol=5)
    F = torch.FloatStorage
    w = Tensor(Storage(F, "0", "f", [1.0, 2.0]), 0, (2,), (1,))
    save("py2_ordereddict", Py2OrderedDict([("w", w)]))
    save("bigendian", collections.OrderedDict(w=w), byteorder=b"big")
    save("nested", {"model": {"enc": {"w": w}}, "epoch": 3})
    save("non_tensor", {"model": collections.OrderedDict(w=w, n=3)})
    # A storage entry shorter than the tensor that views it: storage key 0 holds 2 floats, tensor wants 4.
    save("short_storage", collections.OrderedDict(w=Tensor(Storage(F, "0", "f", [1.0, 2.0]), 0, (4,), (1,))))


if __name__ == "__main__":
    main()
