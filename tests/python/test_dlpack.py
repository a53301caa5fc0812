"""The DLPack boundary: zero-copy views, dtype/stride/device checks with rlvr's stable ids, the
versioned ("dltensor_versioned") and legacy ("dltensor") capsules, and the "used_" renaming plus
exactly one deleter call."""
import ctypes

import numpy as np
import pytest
import torch

import rlvr
import rlvr.torch as rt
from rlvr import _rlvr

PyCapsule_GetName = ctypes.pythonapi.PyCapsule_GetName
PyCapsule_GetName.restype = ctypes.c_char_p
PyCapsule_GetName.argtypes = [ctypes.py_object]


def small(dtype=np.float32):
    z = np.linspace(-2, 2, 4 * 6, dtype=np.float64).reshape(4, 6).astype(dtype)
    y = np.array([0, 5, 2, 3], dtype=np.int64)
    adv = np.array([1.0, -1.0, 0.5, -0.5], dtype=dtype)
    return z, y, adv


def test_numpy_arrays_are_accepted_and_agree_with_torch():
    z, y, adv = small(np.float64)
    loss_np, grad_np, _ = rlvr.loss_and_grad(z, y, adv, objective="reinforce")
    loss_t, grad_t, _ = rlvr.loss_and_grad(torch.from_numpy(z), torch.from_numpy(y), torch.from_numpy(adv),
                                           objective="reinforce")
    assert loss_np == loss_t
    np.testing.assert_array_equal(grad_np, grad_t)
    logp, ent = rlvr.log_prob_entropy(z, y.astype(np.int32))
    lt, et = rt.log_prob_entropy(torch.from_numpy(z), torch.from_numpy(y))
    np.testing.assert_array_equal(logp, lt.numpy())
    np.testing.assert_array_equal(ent, et.numpy())
    ref = torch.log_softmax(torch.from_numpy(z), -1).gather(1, torch.from_numpy(y)[:, None]).squeeze(1)
    np.testing.assert_allclose(logp, ref.numpy(), rtol=1e-14, atol=1e-14)


def test_views_are_not_copies():
    """grad written through DLPack lands in the caller's buffer; in place (grad = logits) works."""
    z, y, adv = small(np.float64)
    grad = np.zeros_like(z)
    rlvr.loss_and_grad(z, y, adv, objective="reinforce", grad=grad)
    assert np.abs(grad).sum() > 0
    zz = z.copy()
    rlvr.loss_and_grad(zz, y, adv, objective="reinforce", grad=zz)
    np.testing.assert_allclose(zz, grad, rtol=1e-15, atol=1e-15)


def test_strided_rows_are_viewed_and_other_layouts_rejected():
    z, y, adv = small(np.float32)
    wide = np.zeros((4, 10), dtype=np.float32)
    wide[:, :6] = z
    _, g1, _ = rlvr.loss_and_grad(z, y, adv, objective="reinforce")
    _, g2, _ = rlvr.loss_and_grad(wide[:, :6], y, adv, objective="reinforce", grad=np.zeros((4, 6), np.float32))
    np.testing.assert_array_equal(g1, g2)
    zt = np.asfortranarray(z)  # column-major: stride 4 in the last dimension
    with pytest.raises(rlvr.ShapeError, match=r"\[rlvr.shape\] logits: shape \[4, 6\] has stride 4 in its last"):
        rlvr.loss_and_grad(zt, y, adv, objective="reinforce")
    with pytest.raises(rlvr.ShapeError, match="advantages: .* not contiguous"):
        rlvr.loss_and_grad(z, y, np.repeat(adv, 2)[::2], objective="reinforce")
    t = torch.from_numpy(z)
    with pytest.raises(rlvr.ShapeError, match="stride"):
        rt.policy_loss(t.t(), torch.arange(6) % 4, advantages=torch.ones(6), objective="reinforce")


def test_wrong_dtypes_are_rejected_with_the_argument_named():
    z, y, adv = small(np.float32)
    with pytest.raises(rlvr.RangeError, match=r"\[rlvr.range\] advantages: dtype float64 \(expected float32\)"):
        rlvr.loss_and_grad(z, y, adv.astype(np.float64), objective="reinforce")
    with pytest.raises(rlvr.RangeError, match=r"logits: dtype int64 \(expected float32 or float64\)"):
        rlvr.loss_and_grad(z.astype(np.int64), y, adv, objective="reinforce")
    with pytest.raises(rlvr.RangeError, match=r"targets: dtype float32 \(expected int32 or int64\)"):
        rlvr.loss_and_grad(z, y.astype(np.float32), adv, objective="reinforce")
    with pytest.raises(rlvr.UnsupportedError, match=r"\[rlvr.unsupported\] logits: dtype bfloat16"):
        rt.policy_loss(torch.from_numpy(z).bfloat16(), torch.from_numpy(y), advantages=torch.from_numpy(adv),
                       objective="reinforce")
    with pytest.raises(rlvr.RangeError, match=r"targets\[1\] = 5 is outside \[0, 3\)"):
        rlvr.loss_and_grad(z[:, :3].copy(), y, adv, objective="reinforce")
    with pytest.raises(rlvr.ShapeError, match="does not implement __dlpack__"):
        _rlvr.log_prob_entropy([[1.0, 2.0]], np.array([0]), np.zeros(1))


class Producer:
    """A DLPack producer that hands out a prepared capsule and reports a device."""

    def __init__(self, capsule, device=(1, 0)):
        self.capsule, self.device, self.calls = capsule, device, []

    def __dlpack__(self, **kw):
        self.calls.append(kw)
        return self.capsule

    def __dlpack_device__(self):
        return self.device


def test_legacy_capsule_is_renamed_used():
    z, y, adv = small(np.float64)
    p = Producer(z.__dlpack__())
    logp = np.empty(4)
    _rlvr.log_prob_entropy(p, y, logp)
    assert PyCapsule_GetName(p.capsule) == b"used_dltensor"
    assert p.calls[0] == {"max_version": (1, 0)} or p.calls[0] == {}
    with pytest.raises(rlvr.ShapeError, match="'used_dltensor'.*already consumed"):
        _rlvr.log_prob_entropy(p, y, logp)


# ---- a DLPack 1.0 producer written with ctypes (Debian's torch/NumPy predate versioned capsules) ----
class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensorVersioned))
DLManagedTensorVersioned._fields_ = [("version", DLPackVersion), ("manager_ctx", ctypes.c_void_p),
                                     ("deleter", DELETER), ("flags", ctypes.c_uint64), ("dl_tensor", DLTensor)]

PyCapsule_New = ctypes.pythonapi.PyCapsule_New
PyCapsule_New.restype = ctypes.py_object
PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class Versioned:
    """Owns a float64 array exported as a DLPack 1.0 capsule; counts deleter calls."""

    def __init__(self, array, flags=0, major=1, strides=None):
        self.array = array
        self.deleted = 0
        self.shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        self.strides = None if strides is None else (ctypes.c_int64 * array.ndim)(*strides)
        self._deleter = DELETER(self._delete)
        m = DLManagedTensorVersioned()
        m.version = DLPackVersion(major, 0)
        m.deleter = self._deleter
        m.flags = flags
        m.dl_tensor = DLTensor(array.ctypes.data, DLDevice(1, 0), array.ndim, DLDataType(2, 64, 1), self.shape,
                               self.strides, 0)
        self.managed = m
        self.capsule = PyCapsule_New(ctypes.addressof(m), b"dltensor_versioned", None)

    def _delete(self, _):
        self.deleted += 1

    def __dlpack__(self, max_version=None, **_):
        assert max_version == (1, 0)
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)


def test_versioned_capsule_is_consumed_once_and_renamed():
    z, y, _ = small(np.float64)
    v = Versioned(z)
    logp = np.empty(4)
    _rlvr.log_prob_entropy(v, y, logp)
    assert PyCapsule_GetName(v.capsule) == b"used_dltensor_versioned"
    assert v.deleted == 1
    expected, _ = rlvr.log_prob_entropy(z, y)
    np.testing.assert_array_equal(logp, expected)


def test_versioned_strides_and_flags_are_honoured():
    z, y, _ = small(np.float64)
    # explicit strides (in elements) equal to the compact ones are fine
    v = Versioned(z, strides=(6, 1))
    logp = np.empty(4)
    _rlvr.log_prob_entropy(v, y, logp)
    assert v.deleted == 1
    # a read-only output is refused (the tensor is still handed back)
    out = Versioned(np.empty(4), flags=1)
    with pytest.raises(rlvr.ShapeError, match="logp_out: the tensor is read-only"):
        _rlvr.log_prob_entropy(z, y, out)
    assert out.deleted == 1
    # a newer major version is not consumed: the capsule keeps its name, nothing is deleted
    new = Versioned(z, major=2)
    with pytest.raises(rlvr.UnsupportedError, match="DLPack version 2.0 is newer"):
        _rlvr.log_prob_entropy(new, y, logp)
    assert PyCapsule_GetName(new.capsule) == b"dltensor_versioned" and new.deleted == 0


def test_device_tensors_are_refused_with_unsupported():
    z, y, _ = small(np.float64)
    p = Producer(z.__dlpack__(), device=(2, 0))  # kDLCUDA
    with pytest.raises(rlvr.UnsupportedError, match=r"\[rlvr.unsupported\] logits: the tensor is on device type 2 "
                                                    r"\(CUDA\); this build .* host \(CPU\) tensors only"):
        _rlvr.log_prob_entropy(p, y, np.empty(4))
    assert not rlvr._rlvr.cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA-enabled torch and a GPU")
def test_cuda_tensors_raise_unsupported_in_this_build():
    z = torch.randn(4, 6, device="cuda", requires_grad=True)
    with pytest.raises(rlvr.UnsupportedError, match="host"):
        rt.policy_loss(z, torch.zeros(4, dtype=torch.long, device="cuda"), advantages=torch.ones(4, device="cuda"))


def test_advise_hugepages_covers_the_aligned_part_of_a_compact_buffer_only():
    # rlvr.torch advises its fresh N × V gradient buffer for transparent huge pages; it is only
    # advice: the bytes advised are the 2 MiB-aligned part of a compact buffer (or 0 where the
    # kernel has no THP), never more, and 0 for a strided view; the contents are not touched
    huge = 1 << 21
    t = torch.empty(8 * huge // 4 + 123, dtype=torch.float32)
    got = _rlvr.advise_hugepages(t)
    p, n = t.data_ptr(), t.numel() * 4
    aligned = (p + n) // huge * huge - (p + huge - 1) // huge * huge
    assert got in (0, aligned)
    assert aligned >= 6 * huge
    assert _rlvr.advise_hugepages(torch.empty(64, 64)[:, ::2]) == 0
    assert _rlvr.advise_hugepages(torch.empty(10)) == 0
    t.fill_(3.0)
    assert bool(torch.all(t == 3.0))
