"""Customer feedback mining: intent/topic, sentiment, urgency, product and serial extraction,
near-real-time spikes of a complaint topic, and links from complaints to production batches.

Pure compute; imports only :mod:`shopfloor.core`.
"""
