"""SSV2A sound sources (docs/architecture.md §6; seed ``ssv2a.txt``).

- :mod:`.manifold` — the CMSS manifold: projectors ``v`` (CLIP) and ``φ`` (audio), the
  reconstructor ``χ``, the contrastive loss with the CCMR mask.
- :mod:`.remixer` — the Remixer ``ψ`` (Efficient Attention, [cls], variational head),
  Cycle Mix (Algorithm 1) and Temporal Aggregation ``ω`` (eqs. 11–12).
- :mod:`.sources` — :func:`~.sources.mix_embedding`: perceived sources → the mix embedding.
- :mod:`.io` — :func:`~.io.save_ssv2a` / :func:`~.io.load_ssv2a` (safetensors + JSON).
- :mod:`.analysis` — the manifold check of SSV2A App. A.3.
"""
