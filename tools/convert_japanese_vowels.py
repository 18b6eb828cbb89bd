"""Convert the UEA JapaneseVowels ``.ts`` files into ``seqot/datasets/data/japanese_vowels.npz``.

Developer tool, run once; seqot never imports sktime/aeon. The ``.ts`` files ship inside
the sktime and aeon wheels (``<pkg>/datasets/data/JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts``)::

    pip download --no-deps aeon -d wheels && unzip -o wheels/aeon-*.whl 'aeon/datasets/data/JapaneseVowels/*' -d wheels
    python tools/convert_japanese_vowels.py wheels/aeon/datasets/data/JapaneseVowels

Trailing all-zero frames (the padding of the equal-length copies) are stripped, which
recovers the true utterance lengths 7..29.
"""

import argparse
from pathlib import Path

import numpy as np


def read_ts(path, *, label=int, strip_zero_frames=True):
    """Sequences ``(T_i, d)`` and labels of a UEA ``.ts`` file (one case a line, channels
    separated by ':', the label last); trailing all-zero frames are padding if
    ``strip_zero_frames``."""
    seqs, labels = [], []
    in_data = False
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if line.startswith("@") or not in_data:
            continue
        *channels, name = line.split(":")
        chans = [np.array([float(v) if v != "?" else np.nan for v in c.split(",")]) for c in channels]
        T = max(len(c) for c in chans)
        frames = np.full((T, len(chans)), np.nan)
        for j, c in enumerate(chans):
            frames[: len(c), j] = c
        pad = np.all(np.isnan(frames), axis=1)
        if strip_zero_frames:
            pad |= np.all(frames == 0, axis=1)
        last = np.flatnonzero(~pad)[-1] + 1
        frames = frames[:last]
        assert np.all(np.isfinite(frames)), path
        seqs.append(frames)
        labels.append(label(name))
    return seqs, np.array(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--out", default="seqot/datasets/data/japanese_vowels.npz")
    args = parser.parse_args()
    out = {}
    for split in ("train", "test"):
        seqs, y = read_ts(Path(args.folder) / f"JapaneseVowels_{split.upper()}.ts")
        out[f"X_{split}"] = np.concatenate(seqs).astype(np.float64)
        out[f"lengths_{split}"] = np.array([len(s) for s in seqs], dtype=np.int64)
        out[f"y_{split}"] = y.astype(np.int64)
        print(split, len(seqs), "sequences, lengths", min(map(len, seqs)), "-", max(map(len, seqs)))
    np.savez_compressed(args.out, **out)


if __name__ == "__main__":
    main()
