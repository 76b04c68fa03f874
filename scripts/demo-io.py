#!/usr/bin/env python3
"""Pre- and post-processing for the demo models, as the `verity` CLI's JSON tensors.

  demo-io.py text-line IMAGE           > input.json   # a text-line crop for ppocr-text-direction
  demo-io.py audio WAV [--offset SEC]  > input.json   # a 36 ms window for silero-vad
  demo-io.py explain OUTPUT.json                     # what an `infer --json` output means
  demo-io.py sample-text-line IMAGE [--upside-down]  # draw a line of text into IMAGE (PNG)

text-line: the image is converted to RGB, resized to 48 pixels high keeping its aspect ratio
(at most 192 wide), scaled to [-1, 1] ((x / 255 - 0.5) / 0.5, as PaddleOCR does), laid out
channel-first and padded with zeros to 3x48x192.
audio: the WAV file (PCM 16-bit, any rate) is mixed to mono, resampled to 16 kHz, and the 576
samples from --offset (64 of context, then a 512-sample window) become `input`, with a zero
recurrent `state`.
"""

import json
import sys
import wave

import numpy as np


def text_line(path):
    from PIL import Image

    image = Image.open(path).convert("RGB")
    width = min(192, max(1, round(image.width * 48 / image.height)))
    image = image.resize((width, 48), Image.BILINEAR)
    pixels = (np.asarray(image, dtype=np.float32) / 255.0 - 0.5) / 0.5  # H, W, C
    tensor = np.zeros((1, 3, 48, 192), dtype=np.float32)
    tensor[0, :, :, :width] = pixels.transpose(2, 0, 1)
    return {"x": {"dtype": "f32", "shape": [1, 3, 48, 192], "data": tensor.ravel().tolist()}}


def audio(path, offset):
    with wave.open(path, "rb") as clip:
        if clip.getsampwidth() != 2:
            sys.exit(f"{path}: only 16-bit PCM WAV files are supported")
        rate, channels = clip.getframerate(), clip.getnchannels()
        samples = np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2").astype(np.float32)
    samples = samples.reshape(-1, channels).mean(axis=1) / 32768.0
    if rate != 16000:
        positions = np.arange(0, len(samples), rate / 16000.0)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    start = int(offset * 16000)
    window = samples[start:start + 576]
    if len(window) < 576:
        window = np.pad(window, (0, 576 - len(window)))
    return {
        "input": {"dtype": "f32", "shape": [1, 576], "data": window.astype(np.float32).tolist()},
        "state": {"dtype": "f32", "shape": [2, 1, 128], "data": [0.0] * 256},
    }


def sample_text_line(path, upside_down):
    """A line of dark text on a light background, 48 pixels high: the kind of crop the
    classifier sees after text detection (turned 180 degrees with --upside-down)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=30)
    text = "Verifiable inference"
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 16, 48), "white")
    ImageDraw.Draw(image).text((8 - left, (48 - (bottom - top)) // 2 - top), text, font=font, fill="black")
    if upside_down:
        image = image.rotate(180)
    image.save(path)


def explain(path):
    result = json.load(open(path))
    # `verity --json request show` puts the tensors under output_tensors, `infer` under output.
    output = result.get("output_tensors") or result.get("output")
    if not isinstance(output, dict):
        sys.exit("no output tensors in this file: is the request finalized?")
    if "save_infer_model/scale_0.tmp_1" in output:
        upright, flipped = output["save_infer_model/scale_0.tmp_1"]["data"][:2]
        label = "upright (0°)" if upright >= flipped else "upside down (180°)"
        return f"text line is {label}: p(0°) = {upright:.4f}, p(180°) = {flipped:.4f}"
    if "output" in output:
        probability = output["output"]["data"][0]
        verdict = "speech" if probability >= 0.5 else "no speech"
        return f"{verdict}: p(speech) = {probability:.4f} (feed stateN back as the next window's state)"
    sys.exit("not an output of a demo model")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    command, path = sys.argv[1], sys.argv[2]
    if command == "text-line":
        print(json.dumps(text_line(path)))
    elif command == "audio":
        offset = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--offset" else 0.0
        print(json.dumps(audio(path, offset)))
    elif command == "explain":
        print(explain(path))
    elif command == "sample-text-line":
        sample_text_line(path, "--upside-down" in sys.argv[3:])
    else:
        sys.exit(__doc__)
