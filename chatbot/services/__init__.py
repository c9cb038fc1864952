"""Chatbot services: conversations (the dialogue turn, handoff), NLU models, intent training."""
