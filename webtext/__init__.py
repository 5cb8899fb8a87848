"""webtext: an open, distributed rebuild of GPT-2's WebText recipe.

Importing the package stays cheap: no ray, torch, scrapy or trafilatura at import time. Stages
import their heavy dependencies lazily, inside the function that needs them.
"""

__version__ = "0.1.0"
