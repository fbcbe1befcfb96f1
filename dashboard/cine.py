"""A self-contained HTML/JS cine player for one study, rendered from its frames.

Frames are embedded as base64 PNGs; every view gets its own play/pause button, frame slider and
speed menu, and a shared "play all" keeps the views in step. The HTML goes through
``st.iframe`` (sized to its content: the views wrap to the width they get), so it works in
any browser with no server round trip per frame. View names are escaped; nothing from a report
ever reaches this HTML.
"""

from __future__ import annotations

import base64
import html
import io
import json

import numpy as np
from PIL import Image

_SPEEDS = (0.25, 0.5, 1.0, 2.0)
# Views share the player's width, ``columns`` to a row; narrower than this, fewer to a row: a
# fixed size cut the last column off at the frame's edge (a laptop's case view is ~550 px wide).
MIN_VIEW_PX = 140
GRID_GAP_PX = 14  # between views, across and down
# The theme's primary colour (.streamlit/config.toml): "Play all" looks like the app's buttons.
PRIMARY_COLOUR = "#cf4250"
# st.iframe(height="content") sizes its frame from this message, which Streamlit's own script in
# the frame posts with the larger of the body's and the document's heights; the document is never
# shorter than the frame, so a frame that once grew (views one to a row while a tablet turned or
# a window narrowed) never shrank back: 1,170 px of blank under the player. After Streamlit's
# script on each resize, the player posts its body's own height; the frame then shrinks to it.
SIZE_MESSAGE = "streamlit:iframe:setSize"


def png_base64(frame: np.ndarray) -> str:
    """One uint8 frame [H, W] as a base64 PNG string."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), mode="L").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def cine_player_html(views: dict[str, np.ndarray], fps: float = 16.0, columns: int = 3) -> str:
    """HTML for a grid of cine players.

    views: view name -> uint8 frames [T, H, W] (T >= 1; a single frame shows a still image).
    fps: frames per second at speed 1x.
    """
    encoded = {name: [png_base64(f) for f in frames] for name, frames in views.items()}
    speeds = "".join(
        f'<option value="{s}"{" selected" if s == 1.0 else ""}>{s}x</option>' for s in _SPEEDS
    )
    cards = "\n".join(
        _card(i, name, len(frames), speeds) for i, (name, frames) in enumerate(views.items())
    )
    data = json.dumps([encoded[name] for name in views])
    return _TEMPLATE.format(
        columns=columns,
        min_px=MIN_VIEW_PX,
        gap=GRID_GAP_PX,
        gaps=GRID_GAP_PX * (columns - 1),
        cards=cards,
        data=data,
        fps=float(fps),
        primary=PRIMARY_COLOUR,
        size_message=SIZE_MESSAGE,
    )


def _card(index: int, name: str, n_frames: int, speeds: str) -> str:
    label = html.escape(name)
    disabled = " disabled" if n_frames <= 1 else ""
    return f"""
<div class="card">
  <div class="title">{label} <span class="count" id="count{index}">1/{n_frames}</span></div>
  <img id="img{index}" class="frame" alt="{label} frame"/>
  <div class="controls">
    <button id="play{index}" class="play" onclick="toggle({index})" aria-label="Play {label}"
      data-view="{label}"{disabled}>&#9654;</button>
    <input id="slider{index}" class="slider" type="range" min="0" max="{max(n_frames - 1, 0)}"
      value="0" oninput="seek({index}, this.value)" aria-label="{label} frame"{disabled}/>
    <select id="speed{index}" class="speed" onchange="setSpeed({index}, this.value)"
      aria-label="{label} speed"{disabled}>{speeds}</select>
  </div>
</div>"""


_TEMPLATE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font-family: "Source Sans Pro", sans-serif; margin: 0; color: #e8eef5; background: transparent; }}
.bar {{ margin: 4px 0 8px 0; }}
.bar button {{ background: {primary}; color: white; border: 0; border-radius: 6px; padding: 4px 12px; cursor: pointer; }}
.grid {{ display: grid; gap: {gap}px;
  grid-template-columns: repeat(auto-fill, minmax(max({min_px}px, calc((100% - {gaps}px) / {columns})), 1fr)); }}
.card {{ background: #11161f; border-radius: 10px; padding: 8px; }}
.title {{ font-size: 13px; font-weight: 600; margin-bottom: 4px; color: #cfd8e3; }}
.count {{ float: right; font-weight: 400; color: #8a97a8; }}
.frame {{ display: block; width: 100%; aspect-ratio: 1; image-rendering: pixelated; background: black; border-radius: 6px; }}
.controls {{ display: flex; align-items: center; gap: 4px; margin-top: 4px; }}
.play {{ width: 30px; background: #262d3a; color: white; border: 0; border-radius: 5px; cursor: pointer; }}
.slider {{ flex: 1; min-width: 0; }}
.speed {{ background: #262d3a; color: white; border: 0; border-radius: 5px; font-size: 11px; }}
</style></head><body>
<div class="bar"><button id="playall" onclick="playAll()">&#9654; Play all</button></div>
<div class="grid">{cards}</div>
<script>
const FRAMES = {data};
const FPS = {fps};
const state = FRAMES.map(() => ({{ frame: 0, playing: false, speed: 1.0, timer: null }}));
function show(i) {{
  const s = state[i], n = FRAMES[i].length;
  document.getElementById("img" + i).src = "data:image/png;base64," + FRAMES[i][s.frame];
  document.getElementById("slider" + i).value = s.frame;
  document.getElementById("count" + i).textContent = (s.frame + 1) + "/" + n;
}}
function tick(i) {{ state[i].frame = (state[i].frame + 1) % FRAMES[i].length; show(i); }}
function start(i) {{
  const s = state[i];
  if (FRAMES[i].length < 2) return;
  clearInterval(s.timer);
  s.timer = setInterval(() => tick(i), 1000 / (FPS * s.speed));
  s.playing = true; button(i, "&#10074;&#10074;", "Pause ");
}}
function stop(i) {{
  const s = state[i]; clearInterval(s.timer); s.playing = false;
  button(i, "&#9654;", "Play ");
}}
function button(i, symbol, action) {{
  const b = document.getElementById("play" + i);
  b.innerHTML = symbol; b.setAttribute("aria-label", action + b.dataset.view);
}}
function toggle(i) {{ state[i].playing ? stop(i) : start(i); }}
function seek(i, v) {{ stop(i); state[i].frame = parseInt(v); show(i); }}
function setSpeed(i, v) {{ state[i].speed = parseFloat(v); if (state[i].playing) start(i); }}
function playAll() {{
  const any = state.some(s => s.playing);
  state.forEach((s, i) => {{ s.frame = 0; any ? stop(i) : start(i); show(i); }});
  document.getElementById("playall").innerHTML = any ? "&#9654; Play all" : "&#10074;&#10074; Pause all";
}}
FRAMES.forEach((_, i) => show(i));
function postSize() {{
  const height = Math.ceil(document.body.getBoundingClientRect().bottom + window.scrollY);
  const width = document.documentElement.clientWidth;
  window.parent.postMessage({{ type: "{size_message}", width: width, height: height }}, "*");
}}
// after Streamlit's own script has posted its (too tall) height for the same event
window.addEventListener("resize", () => setTimeout(postSize));
window.addEventListener("load", () => setTimeout(postSize));
</script></body></html>"""
