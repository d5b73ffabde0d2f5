"""A stand-in for the Django service's AppSettings model: the daily limits, per feature.

The quota service only calls `AppSettings.get()` and reads `daily_limit_<feature>`; the driver
sets the limits it is told.
"""


class AppSettings:
    daily_limit_remix = 10
    daily_limit_remix_suggestions = 20
    daily_limit_scale = 10
    daily_limit_tips = 20
    daily_limit_discover = 10
    daily_limit_timer = 10

    @classmethod
    def get(cls):
        return cls
