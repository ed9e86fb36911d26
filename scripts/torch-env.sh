# Environment for building and running the `torch` feature against the
# libtorch inside a Python venv that holds torch 2.13.0 (DEVELOPERS.md).
# Source it: `. scripts/torch-env.sh /path/to/venv`.
#
# tch's build script (torch-sys) runs `python` from PATH to find libtorch
# when LIBTORCH_USE_PYTORCH is set; it links without an rpath, so binaries
# find libtorch*.so at run time through LD_LIBRARY_PATH.
# The venv's path is made absolute: cargo runs build scripts from their
# own directories, where a relative PATH entry would point elsewhere.
torch_venv="$(cd "${1:?usage: . scripts/torch-env.sh VENV}" && pwd)" || return 1 2>/dev/null || exit 1
if ! torch_lib="$("$torch_venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)"; then
    echo "scripts/torch-env.sh: no importable torch in $torch_venv (pip install torch==2.13.0)" >&2
    return 1 2>/dev/null || exit 1
fi
export PATH="$torch_venv/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset torch_venv torch_lib
