"""Real PyTorch fine-tuning for the in-process engine: models, corpora, tokenizer, partitions, local
training, aggregation (FedSGD / FedAvg), LoRA, and the cloud's cached pre-training.

Heavy imports (torch, transformers, tokenizers) live in the modules, not here, so that importing the
package stays cheap.
"""
