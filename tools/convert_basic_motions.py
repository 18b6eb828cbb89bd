"""Convert the UEA BasicMotions ``.ts`` files into ``seqot/datasets/data/basic_motions.npz``.

Developer tool, run once; seqot never imports sktime/aeon. The ``.ts`` files ship inside
the sktime and aeon wheels (``<pkg>/datasets/data/BasicMotions/BasicMotions_{TRAIN,TEST}.ts``)::

    pip download --no-deps aeon -d wheels && unzip -o wheels/aeon-*.whl 'aeon/datasets/data/BasicMotions/*' -d wheels
    python tools/convert_basic_motions.py wheels/aeon/datasets/data/BasicMotions

Every case has 100 frames of 6 channels; values are kept exactly (float64), labels as the
archive's class names.
"""

import argparse
from pathlib import Path

import numpy as np
from convert_japanese_vowels import read_ts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--out", default="seqot/datasets/data/basic_motions.npz")
    args = parser.parse_args()
    out = {}
    for split in ("train", "test"):
        seqs, y = read_ts(Path(args.folder) / f"BasicMotions_{split.upper()}.ts", label=str,
                          strip_zero_frames=False)
        assert {len(s) for s in seqs} == {100}, "BasicMotions series have 100 frames"
        out[f"X_{split}"] = np.stack(seqs).astype(np.float64)  # (n, 100, 6), time first
        out[f"y_{split}"] = y.astype("U")
        print(split, len(seqs), "series, classes", sorted(set(y)))
    np.savez_compressed(args.out, **out)


if __name__ == "__main__":
    main()
