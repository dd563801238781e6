"""The benchmark's inputs: the pre-encoded FLV streams every server is fed at real-time rate
(the synthetic stream of the player-count runs, and the realistic stream matrix of --streams),
each encoded once into the build directory."""

import os
import subprocess

from servers import log
import math

FPS = 25
GOP_FRAMES = 50  # a keyframe every 2 s, as streaming services ask for
AUDIO_KBPS = 64


# The realistic stream matrix (--streams): what cameras and OBS send. Snow (per-pixel noise)
# cannot be compressed, so x264 really spends the bitrate asked for.
STREAM_FPS = 30
STREAM_AUDIO_KBPS = 128
STREAMS = [
    dict(name="720p30 4 Mbps snow, 2 s GOP", key="720p-4m-gop2", width=1280, height=720,
         kbps=4000, gop_s=2, pattern="snow", tracks="av"),
    dict(name="1080p30 8 Mbps snow, 4 s GOP", key="1080p-8m-gop4", width=1920, height=1080,
         kbps=8000, gop_s=4, pattern="snow", tracks="av"),
    dict(name="1080p30 20 Mbps snow, 2 s GOP", key="1080p-20m-gop2", width=1920, height=1080,
         kbps=20000, gop_s=2, pattern="snow", tracks="av"),
    dict(name="audio only, AAC 128 kbps", key="aac-128k", kbps=0, gop_s=2, tracks="a"),
    # No audio at all: players and servers must not wait for an audio track (flvmux gets one
    # pad, the FLV header says video only) and the late joiner's burst is video alone.
    dict(name="video only, 1080p30 8 Mbps snow, 4 s GOP", key="1080p-8m-gop4-video",
         width=1920, height=1080, kbps=8000, gop_s=4, pattern="snow", tracks="v"),
]



def make_input(path, total_kbps, seconds):
    """A 640x360 25 fps H.264 (x264enc) + AAC (avenc_aac) FLV of about total_kbps."""
    if os.path.exists(path):
        return
    log("encoding %s (%d kbps, %d s)" % (path, total_kbps, seconds))
    tmp = path + ".part"
    pipeline = (
        "videotestsrc num-buffers=%d horizontal-speed=4 "
        "! video/x-raw,width=640,height=360,framerate=%d/1 "
        "! x264enc bitrate=%d key-int-max=%d tune=zerolatency speed-preset=veryfast "
        "! h264parse ! flvmux name=m ! filesink location=%s "
        "audiotestsrc num-buffers=%d ! audio/x-raw,rate=44100,channels=2 "
        "! avenc_aac bitrate=%d ! aacparse ! m."
        % (seconds * FPS, FPS, total_kbps - AUDIO_KBPS, GOP_FRAMES, tmp,
           math.ceil(seconds * 44100 / 1024), AUDIO_KBPS * 1000))
    subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True)
    os.rename(tmp, path)



def make_stream_input(path, st, seconds):
    """One stream of the matrix as an FLV file (encoded once, faster or slower than real time)."""
    if os.path.exists(path):
        return
    log("encoding %s (%s, %d s)" % (path, st["name"], seconds))
    tmp = path + ".part"
    audio = ("audiotestsrc num-buffers=%d samplesperbuffer=1024 wave=white-noise volume=0.3 "
             "! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=%d ! aacparse ! m. "
             % (math.ceil(seconds * 48000 / 1024), STREAM_AUDIO_KBPS * 1000))
    video = ""
    if "v" in st["tracks"]:
        # scenecut=0: a keyframe exactly every GOP (noise looks like a scene cut to x264).
        video = ("videotestsrc num-buffers=%d pattern=%s ! video/x-raw,width=%d,height=%d,"
                 "framerate=%d/1 ! x264enc bitrate=%d key-int-max=%d speed-preset=ultrafast "
                 "option-string=scenecut=0 ! h264parse ! m. "
                 % (seconds * STREAM_FPS, st["pattern"], st["width"], st["height"], STREAM_FPS,
                    st["kbps"], st["gop_s"] * STREAM_FPS))
    pipeline = "flvmux name=m ! filesink location=%s %s%s" % (
        tmp, video, audio if "a" in st["tracks"] else "")
    subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True)
    os.rename(tmp, path)
