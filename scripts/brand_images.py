"""Draw the integration's brand images: ``.venv/bin/python scripts/brand_images.py``.

Writes ``custom_components/echo_sense/brand/``: icon.png (256 px), icon@2x.png (512 px), logo.png and
logo@2x.png (trimmed, about 129 and 257 px high), transparent backgrounds. Home Assistant 2026.3 and
later serve these in place of the brands repository's, and HACS reads ``brand/icon.png``. The glyph is
the hub seen from above (a disc with its microphone ring) sending Doppler wavefronts to the right.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "custom_components" / "echo_sense" / "brand"
HUB = (32, 48, 64, 255)
RING = (0, 188, 212, 255)  # the light ring and the waves: Home Assistant's cyan family
SUPERSAMPLE = 4


def icon(size: int) -> Image.Image:
    s = size * SUPERSAMPLE
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    cx, cy, r = 0.325 * s, 0.5 * s, 0.22 * s  # the glyph spans cx - 0.22 .. cx + 0.59: centred
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=HUB)
    ring = 0.72 * r
    draw.ellipse([cx - ring, cy - ring, cx + ring, cy + ring], outline=RING, width=round(0.035 * s))
    for k, radius in enumerate((0.33, 0.45, 0.57)):
        rr = radius * s
        alpha = 255 - 60 * k
        draw.arc([cx - rr, cy - rr, cx + rr, cy + rr], -42, 42, fill=(*RING[:3], alpha), width=round(0.045 * s))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int) -> Image.Image:
    mark = icon(height)
    font = ImageFont.load_default(size=round(0.34 * height))
    text = "echo_sense"
    box = ImageDraw.Draw(mark).textbbox((0, 0), text, font=font)
    width = height + (box[2] - box[0]) + round(0.1 * height)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste(mark, (0, 0), mark)
    ImageDraw.Draw(image).text((height, height / 2), text, fill=HUB, font=font, anchor="lm")
    return image.crop(image.getbbox())  # logos are trimmed to their content


def main() -> None:
    OUT.mkdir(exist_ok=True)
    icon(256).save(OUT / "icon.png", optimize=True)
    icon(512).save(OUT / "icon@2x.png", optimize=True)
    logo(168).save(OUT / "logo.png", optimize=True)
    logo(336).save(OUT / "logo@2x.png", optimize=True)
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))} to {OUT}")


if __name__ == "__main__":
    main()
