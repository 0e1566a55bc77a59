"""Offline pipeline: motion corpus, HME, PPO experts, DAgger distillation, evaluation."""
