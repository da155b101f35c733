"""Speech synthesis (`task: text_to_speech`): log-mel frames from text (and a speaker) by a
non-autoregressive acoustic model whose durations come from monotonic alignment search,
made audible by a vocoder.

frontend.py  text -> symbols (characters, or phonemes from phonemizer's espeak-ng backend)
data.py      tables -> symbol ids, speakers, log-mels; length checks; padded batches
mas.py       monotonic alignment search (hand-written: no maintained library)
network.py   AcousticModel: encoder, prior, durations, length regulator, decoder
model.py     Synthesizer: fit / synthesize / evaluate / save / load
evaluate.py  wer_whisper, our recogniser's WER, mcd, real_time_factor
vocoding.py  the vocoder behind modelyard.vocoder.load_vocoder (griffin_lim or a vocoder run)
serve.py, report.py   POST /synthesize -> WAV; report.html's audio players and spectrograms
"""
