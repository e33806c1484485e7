"""Operations: health, metrics, the performance monitor and the dashboard."""
