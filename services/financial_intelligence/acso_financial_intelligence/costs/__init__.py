"""The financial-intelligence analytic core: cost import, anomalies, forecast, waste, security cost, reports.

Pure logic: no web framework, no database, no AWS calls. The service layer fetches or imports
cost data and passes `CostRecord`s in.
"""
