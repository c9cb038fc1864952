"""Chatbot reads: conversation history, transcripts, analytics, training examples."""
