# FoleyStudio developer entry points. Every target creates the environment if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: demo test test-slow lint run bench env clean train-default train-24k train-24k-warm wheel installer

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m foleystudio demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/lint-imports

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check foleystudio tests benchmarks
	$(BIN)/ruff format --check foleystudio tests benchmarks
	$(BIN)/lint-imports

run: $(STAMP)
	QT_QPA_PLATFORM= $(BIN)/foleystudio gui

bench: $(STAMP)
	$(BIN)/foleystudio bench all

# The wheel (carries the default model and the demo clip: setup.py) into dist/.
wheel: $(STAMP)
	$(BIN)/python -m pip wheel --no-deps -w dist .

# The one-folder desktop app with PyInstaller, then --version, doctor and a short generate
# from the built folder (installer/README.md; about 25 min on 2 cores; not part of `make test`).
installer: $(STAMP)
	nice -n 19 $(BIN)/python installer/build.py

clean:
	rm -rf $(VENV) build dist *.egg-info demo-output

# The bundled default model, reproducibly (about 2.5 h on a 2-core CPU; every stage resumes):
# FoleyWorld corpus -> CLIP encoder -> audio encoder -> feature cache + Flowley (16,000 steps)
# -> SSV2A -> visual onset network -> Flowley fine-tuned with the onset track -> fine-tuned to follow
# event tracks (--event-tracks) -> models/foleyworld-tiny. On a machine doing other work, run it
# with OMP_NUM_THREADS=1 (docs/decisions.md, "Training threads on a shared CPU").
# RATE=24000 runs the same chain at 24 kHz (codec preset 24k: 100 mels, hop 256, 23.4375 tokens/s)
# on its own corpus, into runs/24k/ and the bundle runs/24k/foleyworld-tiny-24k; SAMPLES=1 draws
# FoleyWorld's sounds from the recorded palette (--samples, sonic-pi-samples) into runs/24k-samples/
# (runs/samples/ at 16 kHz). Only the plain default writes models/foleyworld-tiny.
# `make train-24k` is RATE=24000 SAMPLES=1 (docs/decisions.md, "A 24 kHz codec"); LOOK below.
RATE ?= 16000
SAMPLES ?=
ifeq ($(RATE)$(SAMPLES),16000)
CODEC := 16k
RUNS := runs
FW_DATA ?= runs/fw-train
BUNDLE ?= models/foleyworld-tiny
BUNDLE_NAME ?= foleyworld-tiny
BUNDLE_VERSION ?= 1.1.0
else ifeq ($(RATE),16000)
CODEC := 16k
RUNS := runs/samples
FW_DATA ?= runs/fw-train-samples
BUNDLE ?= runs/samples/foleyworld-tiny-samples
BUNDLE_NAME ?= foleyworld-tiny-samples
BUNDLE_VERSION ?= 1.2.0-samples
else ifeq ($(RATE),24000)
CODEC := 24k
RUNS := runs/24k$(if $(SAMPLES),-samples)
FW_DATA ?= runs/fw-train-24k$(if $(SAMPLES),-samples)
BUNDLE ?= $(RUNS)/foleyworld-tiny-24k
BUNDLE_NAME ?= foleyworld-tiny-24k
BUNDLE_VERSION ?= 2.0.0-24k
else
$(error RATE must be 16000 or 24000 (the codec presets 16k and 24k), got $(RATE))
endif
# LOOK=mixed|repainted|recoloured trains on that FoleyWorld look (data foleyworld --look), into
# runs, corpus and bundle folders and a version named after it; never models/foleyworld-tiny.
LOOK ?= standard
LOOK_SUFFIX := $(if $(filter-out standard,$(LOOK)),-$(LOOK))
ifneq ($(LOOK_SUFFIX),)
RUNS := $(RUNS)/$(LOOK)
FW_DATA := $(FW_DATA)$(LOOK_SUFFIX)
BUNDLE := $(RUNS)/$(BUNDLE_NAME)
BUNDLE_VERSION := $(BUNDLE_VERSION)$(LOOK_SUFFIX)
endif
train-default: $(STAMP)
	$(BIN)/foleystudio data foleyworld --out $(FW_DATA) --clips 1600 --seed 2026 --jobs 2 --sample-rate $(RATE) $(if $(SAMPLES),--samples) --look $(LOOK)
	test -f $(RUNS)/clip-tiny/clip.safetensors || $(BIN)/foleystudio train clip --data $(FW_DATA) --out $(RUNS)/clip-tiny --steps 250 --batch 128 --resume
	test -f $(RUNS)/audio-tiny/audio.safetensors || $(BIN)/foleystudio train audio --data $(FW_DATA) --clip $(RUNS)/clip-tiny --out $(RUNS)/audio-tiny --steps 1000 --batch 32 --resume
	$(BIN)/foleystudio train flowley --data $(FW_DATA) --clip $(RUNS)/clip-tiny --audio $(RUNS)/audio-tiny --out $(RUNS)/flowley-tiny \
		--codec $(CODEC) --train-clips 800 --steps 16000 --resume
	$(BIN)/foleystudio train ssv2a --cache $(RUNS)/flowley-tiny/cache.safetensors --out $(RUNS)/ssv2a-tiny --resume
	test -d $(RUNS)/onsets-tiny/bundle || $(BIN)/foleystudio train onsets --data $(FW_DATA) --out $(RUNS)/onsets-tiny --steps 3000 --resume
	mkdir -p $(RUNS)/flowley-onsets
	test -f $(RUNS)/flowley-onsets/cache.json || cp $(RUNS)/flowley-tiny/cache.safetensors $(RUNS)/flowley-tiny/cache.json $(RUNS)/flowley-onsets/
	$(BIN)/foleystudio train flowley --data $(FW_DATA) --clip $(RUNS)/clip-tiny --audio $(RUNS)/audio-tiny --out $(RUNS)/flowley-onsets \
		--codec $(CODEC) --init $(RUNS)/flowley-tiny --onsets $(RUNS)/onsets-tiny --steps 6000 --lr 3e-4 --resume
	mkdir -p $(RUNS)/flowley-events
	test -f $(RUNS)/flowley-events/cache.json || cp $(RUNS)/flowley-onsets/cache.safetensors $(RUNS)/flowley-onsets/cache.json $(RUNS)/flowley-events/
	$(BIN)/foleystudio train flowley --data $(FW_DATA) --clip $(RUNS)/clip-tiny --audio $(RUNS)/audio-tiny --out $(RUNS)/flowley-events \
		--codec $(CODEC) --init $(RUNS)/flowley-onsets --onsets $(RUNS)/onsets-tiny --steps 2000 --lr 2e-4 --event-tracks 0.6 --resume \
		--ssv2a $(RUNS)/ssv2a-tiny --bundle $(BUNDLE) --bundle-name $(BUNDLE_NAME) --bundle-version $(BUNDLE_VERSION)

# The default-model chain at 24 kHz on the recorded palette, into runs/24k-samples/ (see train-default).
train-24k:
	$(MAKE) train-default RATE=24000 SAMPLES=1

# The 24 kHz bundle by a warm start from the shipped 16 kHz model, in one sitting (about 1.5 h on
# 2 cores) instead of train-24k's full chain (docs/decisions.md, "A 24 kHz Flowley by a warm
# start"). The shipped CLIP encoder, audio encoder (it resamples to its own 16 kHz) and visual
# onset network are reused as they are; Flowley is carried to the 24k codec bin by bin
# (train/codec_transfer.py) and fine-tuned on the recorded-palette corpus with 1.1.0's last
# recipe; SSV2A is retrained on the new cache. It decodes with Griffin-Lim: the 24 kHz vocoder
# (`train vocoder --sonic-pi --bundle DIR`) did not beat it.
# LOOK=mixed (above) trains on half standard, half repainted rooms (into runs/24k-warm-mixed/).
# WARM_CLIPS=1800 WARM_TRAIN_CLIPS=1600 fine-tunes on twice the clips (into runs/24k-warm-1600clips/):
# at 16 kHz that kept the novel-look balls where 800 clips lost them, though it lost the other
# renderer's discs like every fine-tune (docs/decisions.md, "What a fine-tune costs"); the
# feature cache then takes about 15 min instead of 7. WARM_CLIPS must hold the training clips
# (90 % of a corpus is its train split).
WARM_CLIPS ?= 1600
WARM_TRAIN_CLIPS ?= 800
WARM := runs/24k-warm$(LOOK_SUFFIX)$(if $(filter-out 800,$(WARM_TRAIN_CLIPS)),-$(WARM_TRAIN_CLIPS)clips)
WARM_DATA := runs/fw-train-24k-samples$(LOOK_SUFFIX)
WARM_STEPS ?= 10000
train-24k-warm: $(STAMP)
	$(BIN)/foleystudio data foleyworld --out $(WARM_DATA) --clips $(WARM_CLIPS) --seed 2026 --jobs 2 --sample-rate 24000 --samples --look $(LOOK)
	$(BIN)/foleystudio train flowley --data $(WARM_DATA) --clip models/foleyworld-tiny --audio models/foleyworld-tiny \
		--onsets models/foleyworld-tiny --out $(WARM)/flowley --codec 24k --init models/foleyworld-tiny --train-clips $(WARM_TRAIN_CLIPS) \
		--steps $(WARM_STEPS) --lr 3e-4 --event-tracks 0.6 --resume
	$(BIN)/foleystudio train ssv2a --cache $(WARM)/flowley/cache.safetensors --out $(WARM)/ssv2a --resume
	$(BIN)/foleystudio train flowley --data $(WARM_DATA) --clip models/foleyworld-tiny --audio models/foleyworld-tiny \
		--onsets models/foleyworld-tiny --out $(WARM)/flowley --codec 24k --init models/foleyworld-tiny --train-clips $(WARM_TRAIN_CLIPS) \
		--steps $(WARM_STEPS) --lr 3e-4 --event-tracks 0.6 --resume \
		--ssv2a $(WARM)/ssv2a --bundle $(WARM)/foleyworld-tiny-24k --bundle-name foleyworld-tiny-24k --bundle-version 2.0.0-24k$(LOOK_SUFFIX)
