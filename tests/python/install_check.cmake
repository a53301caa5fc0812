# Installs the `python` component of BUILD into PREFIX and imports rlvr (and rlvr.torch where the
# interpreter has torch) from PREFIX/REL with a clean PYTHONPATH (run by ctest as python:install).
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX} --component python
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
if(NOT EXISTS ${PREFIX}/${REL}/rlvr/__init__.py OR NOT EXISTS ${PREFIX}/${REL}/rlvr/torch.py)
  message(FATAL_ERROR "the package is not in ${PREFIX}/${REL}/rlvr")
endif()
set(code [=[
import importlib.util, sys
import rlvr
assert rlvr.__file__.startswith(sys.argv[1]), rlvr.__file__
if importlib.util.find_spec("torch"):
    import torch, rlvr.torch
    l = rlvr.torch.policy_loss(torch.zeros(2, 3, requires_grad=True), torch.tensor([0, 1]),
                               advantages=torch.tensor([1.0, -1.0]), objective="reinforce")
    assert abs(float(l) - 0.0) < 1e-12
    print("rlvr.torch imported from the prefix")
print("installed rlvr", rlvr.__version__, "at", rlvr.__file__)
]=])
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=PYTHONPATH PYTHONPATH=${PREFIX}/${REL}
                ${PYTHON} -c "${code}" ${PREFIX} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "import from the install prefix failed (${rc})")
endif()
