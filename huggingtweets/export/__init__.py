"""Exports of a finished bot to formats other runtimes load (GGUF for llama.cpp, Ollama, LM Studio).

An export reads a run folder's ``model/`` (or a bot's repo on the Hub) and writes new files beside
it; it never changes the model folder that ``publish`` pushes.
"""
