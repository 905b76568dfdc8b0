"""The pipeline's steps, one module and one job each, composed in ``onshore.bootstrap``:

metering → authenticate → read_request → disconnect → access → (admission) → dispatch → respond
"""
